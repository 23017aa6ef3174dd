"""followthrough/platform"""
