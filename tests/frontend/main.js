// A frontend as its team would write it: Apollo Client over HTTP (uploads through
// apollo-upload-client, the GraphQL multipart request spec) and graphql-ws for subscriptions,
// straight at the API's origin. It signs in, pages the feed, uploads a photo and subscribes to
// its notifications, logging one line per step (the browser test reads them).
import { ApolloClient, ApolloLink, InMemoryCache, gql, split } from "@apollo/client/core";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { getMainDefinition } from "@apollo/client/utilities";
import createUploadLink from "apollo-upload-client/createUploadLink.mjs";
import { createClient } from "graphql-ws";

const params = new URLSearchParams(location.search);
const api = params.get("api");
let token = null;

function log(line) {
  const item = document.createElement("li");
  item.textContent = line;
  document.querySelector("#log").append(item);
  console.log(line);
}

const auth = new ApolloLink((operation, forward) => {
  operation.setContext(({ headers = {} }) => ({
    headers: token ? { ...headers, authorization: `Bearer ${token}` } : headers,
  }));
  return forward(operation);
});
// GraphQL-Preflight: the header the multipart spec's CSRF rule asks of uploads.
const http = createUploadLink({ uri: `${api}/graphql`, headers: { "GraphQL-Preflight": "1" } });
const ws = new GraphQLWsLink(
  createClient({
    url: `${api.replace(/^http/, "ws")}/graphql`,
    connectionParams: () => ({ authorization: `Bearer ${token}` }),
  }),
);
const isSubscription = ({ query }) => {
  const definition = getMainDefinition(query);
  return definition.kind === "OperationDefinition" && definition.operation === "subscription";
};
const client = new ApolloClient({
  link: split(isSubscription, ws, auth.concat(http)),
  cache: new InMemoryCache(),
});

const LOGIN = gql`
  mutation ($input: LoginInput!) {
    login(input: $input) { accessToken user { username } errors { code message } }
  }
`;
const FEED = gql`
  query ($after: String) {
    feed(first: 2, after: $after, order: CHRONOLOGICAL) {
      edges { node { id caption author { username } } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
const UPLOAD = gql`
  mutation ($file: Upload!) {
    uploadMedia(input: { file: $file }) { media { id status } errors { code message } }
  }
`;
const NOTIFIED = gql`
  subscription {
    notificationReceived { kind actors(first: 1) { edges { node { username } } } }
  }
`;

async function main() {
  const login = await client.mutate({
    mutation: LOGIN,
    variables: { input: { usernameOrEmail: params.get("user"), password: params.get("password") } },
  });
  const signedIn = login.data.login;
  if (!signedIn.accessToken) throw new Error(JSON.stringify(signedIn.errors));
  token = signedIn.accessToken;
  log(`SIGNED IN ${signedIn.user.username}`);

  const captions = [];
  let after = null;
  do {
    const page = await client.query({ query: FEED, variables: { after }, fetchPolicy: "network-only" });
    captions.push(...page.data.feed.edges.map((edge) => edge.node.caption));
    after = page.data.feed.pageInfo.hasNextPage ? page.data.feed.pageInfo.endCursor : null;
  } while (after);
  log(`FEED ${captions.join("|")}`);

  const canvas = document.createElement("canvas");
  canvas.width = 96;
  canvas.height = 64;
  const paint = canvas.getContext("2d");
  paint.fillStyle = "#c0392b";
  paint.fillRect(0, 0, 96, 64);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  const uploaded = await client.mutate({
    mutation: UPLOAD,
    variables: { file: new File([blob], "red.png", { type: "image/png" }) },
  });
  const media = uploaded.data.uploadMedia;
  if (!media.media) throw new Error(JSON.stringify(media.errors));
  log(`UPLOADED ${media.media.id} ${media.media.status}`);

  client.subscribe({ query: NOTIFIED }).subscribe({
    next: ({ data }) => {
      const who = data.notificationReceived.actors.edges.map((edge) => edge.node.username);
      log(`NOTIFIED ${data.notificationReceived.kind} ${who.join(",")}`);
    },
    error: (error) => log(`ERROR subscription: ${error.message ?? error}`),
  });
  log("SUBSCRIBED");
}

main().catch((error) => log(`ERROR ${error.message ?? error}`));
