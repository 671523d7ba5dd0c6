"""The outbox: messages to customers and staff, queued in a step's transaction, sent by the workers.

`queue` adds messages and reads them; `events` names what the audit record says of them;
`channels` are the adapters (SMTP, webhook, log); `delivery` leases due messages and sends
them; `resolution` retries or gives up failed ones. docs/outbox.md describes the whole.
"""
