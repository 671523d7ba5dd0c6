"""Sample agency data for the demo and the tests: branches, customers, products, bookings, agents."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .agency import AgentStatus, Booking, Branch, Customer, Product
from .clock import to_db, utcnow

BRANCHES = [("SH01", "上海人民广场营业部", "上海"), ("SH02", "上海徐家汇营业部", "上海"),
            ("HZ01", "杭州武林营业部", "杭州"), ("DZ01", "德州金桥营业部", "德州")]
CUSTOMERS = [
    ("张建国", "13801234567", "上海", "VIP", "SH01"), ("李秀英", "13912345678", "杭州", "普通", "HZ01"),
    ("王小明", "13700001111", "南京", "普通", "SH02"), ("赵雪", "13655556666", "苏州", "普通", "SH01"),
    ("孙立伟", "13522223333", "德州", "普通", "DZ01"), ("周海燕", "13344445555", "上海", "VIP", "SH02"),
    ("吴志强", "13966667777", "上海", "普通", "SH01"), ("郑丽华", "13888889999", "杭州", "普通", "HZ01"),
]
PRODUCTS = [
    ("CR-JP-6", "邮轮", "歌诗达邮轮 上海—福冈—长崎 6天5晚", "日本", 6, "5999"),
    ("CR-SEA-8", "邮轮", "皇家加勒比 东南亚 8天7晚", "新加坡/泰国", 8, "8999"),
    ("TR-YN-7", "旅游", "云南昆明大理丽江 7日跟团游", "云南", 7, "3899"),
    ("TR-XA-5", "旅游", "西安兵马俑华清池 5日跟团游", "陕西", 5, "2599"),
    ("TR-HS-3", "旅游", "黄山宏村 3日跟团游", "安徽", 3, "1299"),
    ("FT-SY-5", "自由行", "三亚亚龙湾 5天4晚 机票+酒店", "海南", 5, "4299"),
    ("FT-CM-6", "自由行", "清迈 6天5晚 自由行", "泰国", 6, "3699"),
]
BOOKINGS = [  # customer phone, product code, tour id, departure, party, status
    ("13801234567", "TR-YN-7", "YN-2026-1118", date(2026, 11, 18), 2, "已出行"),
    ("13801234567", "CR-JP-6", "CR-2026-1220", date(2026, 12, 20), 2, "已预订"),
    ("13912345678", "TR-XA-5", "XA-2026-1102", date(2026, 11, 2), 3, "已出行"),
    ("13700001111", "FT-SY-5", None, date(2026, 12, 28), 2, "已预订"),
    ("13655556666", "TR-HS-3", "HS-2026-1205", date(2026, 12, 5), 4, "已预订"),
    ("13344445555", "CR-SEA-8", "CR-2027-0115", date(2027, 1, 15), 2, "已预订"),
]
AGENT_DESKS = {"agent1": "邮轮", "agent2": "旅游", "agent3": "自由行"}


def seed_agency(session: Session) -> bool:
    """Insert the sample data once; returns False when it is there already."""
    if session.execute(select(func.count(Branch.code))).scalar():
        return False
    session.add_all(Branch(code=c, name=n, city=city) for c, n, city in BRANCHES)
    session.flush()
    if not session.execute(select(func.count(Customer.id))).scalar():
        session.add_all(Customer(name=n, phone=p, city=c, level=lv, branch_code=b) for n, p, c, lv, b in CUSTOMERS)
    session.add_all(Product(code=c, desk=d, name=n, destination=dest, days=days, price=Decimal(price))
                    for c, d, n, dest, days, price in PRODUCTS)
    session.flush()
    customers = {c.phone: c for c in session.execute(select(Customer)).scalars()}
    products = {p.code: p for p in session.execute(select(Product)).scalars()}
    for i, (phone, code, tour, depart, party, status) in enumerate(BOOKINGS, start=1):
        product = products[code]
        session.add(Booking(code=f"BK2026{i:04d}", customer_id=customers[phone].id, product_id=product.id,
                            tour_id=tour, depart_on=depart, party_size=party, amount=product.price * party,
                            status=status))
    now = to_db(utcnow())
    session.add_all(AgentStatus(username=u, desk=d, status="available", updated_at=now)
                    for u, d in AGENT_DESKS.items())
    return True
