"""engine/access"""
