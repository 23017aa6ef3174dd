"""followthrough/triggers"""
