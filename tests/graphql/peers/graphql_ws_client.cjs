// The reference GraphQL-over-WebSocket client (npm graphql-ws, with ws as Node 20's WebSocket),
// run by tests/graphql/test_node_graphql_ws.py against our servers.
//
//   NODE_PATH=.cache/npm/node_modules node graphql_ws_client.cjs URL TOKEN COUNT QUERY
//
// Prints one line per result ("next {...}"), then "complete"; or "closed CODE REASON"
// when the server closes the socket; or "error [...]" for an operation the server refused.
const { createClient } = require("graphql-ws");
const WebSocket = require("ws");

const [url, token, count, query] = process.argv.slice(2);
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { token },
  retryAttempts: 0,
  shouldRetry: () => false,
  on: { closed: (event) => console.log(`closed ${event.code} ${event.reason}`) },
});

async function main() {
  let seen = 0;
  try {
    for await (const result of client.iterate({ query })) {
      if (result.errors && !result.data) {
        console.log(`error ${JSON.stringify(result.errors)}`);
        break;
      }
      console.log(`next ${JSON.stringify(result)}`);
      seen += 1;
      if (seen >= Number(count)) break;
    }
    console.log("complete");
  } catch (err) {
    if (Array.isArray(err)) console.log(`error ${JSON.stringify(err)}`);
    else if (err && err.code) console.log(`closed ${err.code} ${err.reason}`);
    else console.log(`failed ${err}`);
  }
  await client.dispose();
}

main();
