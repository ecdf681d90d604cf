"""localisation"""
