"""Sanctions: the rules per zone kind, the outcomes runs decided, and the summons of warned zones."""
