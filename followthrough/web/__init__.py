"""followthrough/web"""
