"""The application: a live auction served by strawberry-graphql on FastAPI.

Reading order: schema -> hub -> store -> app -> server.
"""
