"""Revision scripts. (Alembic skips __init__; it is here so the scripts ship as package modules.)"""
