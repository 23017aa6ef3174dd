"""followthrough"""
