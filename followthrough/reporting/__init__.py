"""followthrough/reporting"""
