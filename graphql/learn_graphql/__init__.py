"""learn_graphql: GraphQL subscriptions over WebSocket, from the message protocol up.

Reading order: messages -> transport_ws -> client -> auction
(schema, hub, store, app, server) -> feeds -> server -> demo.
"""
