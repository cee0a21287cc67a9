// A small real fediverse server built on Fedify, for failover's ActivityPub tests.
//
// One account, "alice". Through a control port the test makes it look our actor up by its
// handle (WebFinger over https), follow it, unfollow it, delete itself, or go offline (its
// federation port closes and reopens later). Fedify verifies the HTTP Signature of every
// request to alice's inbox before a listener runs, so what is recorded was signed by us.
// Its own requests are signed by Fedify (RFC 9421 first; after failover's 401, draft-cavage).
//
// Usage: node server.mjs <federation port> <control port>; prints one JSON line when ready.
import http from "node:http";
import {
  createFederation,
  exportJwk,
  generateCryptoKeyPair,
  importJwk,
  MemoryKvStore,
} from "@fedify/fedify";
import {
  Accept,
  Create,
  Delete,
  Endpoints,
  Follow,
  isActor,
  lookupObject,
  Person,
  Reject,
  Undo,
  Update,
} from "@fedify/vocab";

const [fedPort, controlPort] = process.argv.slice(2).map(Number);
const origin = `http://127.0.0.1:${fedPort}`;
const received = []; // what alice's inbox accepted, parsed by Fedify
const rawPosts = []; // the raw bodies Fedify answered 2xx to
const following = new Map(); // our actor's id -> the Follow we sent
let keyPair = null;

const federation = createFederation({
  kv: new MemoryKvStore(),
  allowPrivateAddress: true, // everything runs on loopback
  // Default first knock (RFC 9421): failover answers 401 and Fedify falls back to draft-cavage.
});

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== "alice") return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "Alice (Fedify)",
      inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((k) => k.multikey),
    });
  })
  .setKeyPairsDispatcher(async (_ctx, identifier) => {
    if (identifier !== "alice") return [];
    if (keyPair == null) {
      const pair = await generateCryptoKeyPair("RSASSA-PKCS1-v1_5");
      keyPair = { privateKey: await exportJwk(pair.privateKey), publicKey: await exportJwk(pair.publicKey) };
    }
    return [{
      privateKey: await importJwk(keyPair.privateKey, "private"),
      publicKey: await importJwk(keyPair.publicKey, "public"),
    }];
  });

async function record(kind, activity) {
  const entry = { kind, id: activity.id?.href ?? null, actor: activity.actorId?.href ?? null };
  if (kind === "Create" || kind === "Update") {
    const note = await activity.getObject();
    entry.note = {
      id: note.id?.href,
      type: note.constructor.name,
      attributedTo: note.attributionId?.href,
      content: note.content?.toString() ?? null,
      summary: note.summary?.toString() ?? null,
      sensitive: note.sensitive ?? null,
      inReplyTo: note.replyTargetId?.href ?? null,
      url: note.url?.href ?? null,
      to: note.toIds.map((u) => u.href),
      cc: note.ccIds.map((u) => u.href),
      attachments: [],
      tags: [],
    };
    for await (const a of note.getAttachments()) {
      entry.note.attachments.push({ type: a.constructor.name, name: a.name?.toString() ?? null,
                                    url: a.url?.href ?? null, mediaType: a.mediaType ?? null });
    }
    for await (const t of note.getTags()) {
      entry.note.tags.push({ type: t.constructor.name, name: t.name?.toString() ?? null });
    }
  } else if (kind === "Delete") {
    entry.object = activity.objectId?.href ?? null;
  } else if (kind === "Accept" || kind === "Reject") {
    entry.object = activity.objectId?.href ?? null;
  }
  received.push(entry);
}

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Accept, (ctx, a) => record("Accept", a))
  .on(Reject, (ctx, a) => record("Reject", a))
  .on(Create, (ctx, a) => record("Create", a))
  .on(Update, (ctx, a) => record("Update", a))
  .on(Delete, (ctx, a) => record("Delete", a))
  .onError((ctx, error) => { received.push({ kind: "error", error: String(error) }); });

// --- the federation port: Node's http <-> Fedify's fetch handler ----------------------------

async function toRequest(req, base) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = Buffer.concat(chunks);
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) headers.set(k, Array.isArray(v) ? v.join(", ") : v);
  const init = { method: req.method, headers };
  if (req.method !== "GET" && req.method !== "HEAD") init.body = body;
  return [new Request(new URL(req.url, base), init), body];
}

async function reply(res, response) {
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
}

const fedServer = http.createServer(async (req, res) => {
  try {
    const [request, body] = await toRequest(req, origin);
    const response = await federation.fetch(request, { contextData: undefined });
    if (req.method === "POST" && response.status < 300) {
      rawPosts.push({ path: req.url, body: body.toString("utf8"), signature: req.headers.signature ?? null });
    }
    await reply(res, response);
  } catch (e) {
    res.writeHead(500); res.end(String(e));
  }
});

function listenFed() {
  return new Promise((resolve) => fedServer.listen(fedPort, "127.0.0.1", resolve));
}

// --- the control port, for the tests --------------------------------------------------------

const ctx = () => federation.createContext(new URL(origin), undefined);

async function lookup(handle) {
  const found = await lookupObject(handle, { documentLoader: ctx().documentLoader,
                                             allowPrivateAddress: true });
  if (!isActor(found)) throw new Error(`${handle} is not an actor: ${found}`);
  return found;
}

const actions = {
  async follow({ handle }) {
    const target = await lookup(handle);
    const c = ctx();
    const follow = new Follow({
      id: new URL(`${origin}/follows/${crypto.randomUUID()}`),
      actor: c.getActorUri("alice"),
      object: target.id,
    });
    await c.sendActivity({ identifier: "alice" }, target, follow, { immediate: true });
    following.set(target.id.href, { follow, target });
    return { actor: target.id.href, inbox: target.inboxId?.href,
             preferredUsername: target.preferredUsername?.toString(), type: target.constructor.name };
  },
  async unfollow({ actor }) {
    const { follow, target } = following.get(actor);
    const c = ctx();
    const undo = new Undo({ id: new URL(`${origin}/undos/${crypto.randomUUID()}`),
                            actor: c.getActorUri("alice"), object: follow });
    await c.sendActivity({ identifier: "alice" }, target, undo, { immediate: true });
    following.delete(actor);
    return {};
  },
  async deleteSelf({ actor }) {
    const { target } = following.get(actor);
    const c = ctx();
    const del = new Delete({ id: new URL(`${origin}/deletes/${crypto.randomUUID()}`),
                             actor: c.getActorUri("alice"), object: c.getActorUri("alice") });
    await c.sendActivity({ identifier: "alice" }, target, del, { immediate: true });
    return {};
  },
  async offline() {
    await new Promise((resolve) => { fedServer.close(resolve); fedServer.closeAllConnections(); });
    return {};
  },
  async online() { await listenFed(); return {}; },
  async received() { return { received, raw: rawPosts }; },
  async whoami() { return { actor: ctx().getActorUri("alice").href, inbox: ctx().getInboxUri("alice").href,
                            sharedInbox: ctx().getInboxUri().href }; },
};

const control = http.createServer(async (req, res) => {
  const name = req.url.replace(/^\//, "");
  const chunks = [];
  for await (const c of req) chunks.push(c);
  try {
    const args = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : {};
    if (!(name in actions)) throw new Error(`no action ${name}`);
    const out = await actions[name](args);
    res.writeHead(200, { "content-type": "application/json" }); res.end(JSON.stringify(out));
  } catch (e) {
    res.writeHead(500, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: String(e?.stack ?? e) }));
  }
});

await listenFed();
control.listen(controlPort, "127.0.0.1", () => {
  console.log(JSON.stringify({ origin, control: `http://127.0.0.1:${controlPort}` }));
});
