"""engine/bpmn"""
