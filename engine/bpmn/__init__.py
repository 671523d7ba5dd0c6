"""Reading BPMN: safe XML, specs, the workflow codec, lint (the deploy gate) and user-task forms."""
