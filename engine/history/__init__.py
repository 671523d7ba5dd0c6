"""engine/history"""
