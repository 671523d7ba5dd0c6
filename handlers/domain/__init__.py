"""handlers/domain"""
