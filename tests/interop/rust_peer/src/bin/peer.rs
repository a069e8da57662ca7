//! A Rust twin of `python -m ractor_cluster node --app tests.ractor_cluster.node_app`, built on
//! the real ractor / ractor_cluster crates, so that tests/ractor_cluster/harness.py can drive
//! Rust nodes exactly like Python ones.
//!
//! ```text
//! peer --name NAME [--host HOST] [--port PORT] (--cookie C | --cookie-file F)
//!      [--connect HOST:PORT]... [--transitive] [--listen IP] [--max-frame BYTES]
//!      [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]] [--tls-ca PEM [--tls-server-name NAME]]
//!      [--app tests.ractor_cluster.node_app]
//! ```
//!
//! * The first stdout line is `listening on HOST:PORT`.
//! * NodeServer session events are printed as JSON lines
//!   `{"event": "opened"|"authenticated"|"ready"|"disconnected", "peer", "node_id", "server"}`.
//! * A counter actor `counter-NAME` (message family `CounterMsg`, identical on the wire to the
//!   Python `CounterMsg` of tests/ractor_cluster/node_app.py) is spawned and joined to the
//!   default-scope group `test`.
//! * JSON commands are read from stdin, one per line, and answered with
//!   `{"id", "ok": true, "result"}` or `{"id", "ok": false, "error", "text"}` (the ops of
//!   node_app.py's `execute`). A `timeout` field is in seconds, as in node_app.py.
//! * TLS: `--tls-cert/--tls-key` make the NodeServer accept TLS only
//!   (`IncomingEncryptionMode::Tls`), `--tls-client-ca` also requires client certificates.
//!   Dialing (`--connect` and the `connect` command) uses `client_connect_enc` when a CA to trust
//!   is given, by `--tls-ca` or, like node_app.py, by the environment variable
//!   `RACTOR_TEST_TLS_CA` (server name: `--tls-server-name` / `RACTOR_TEST_TLS_SERVER_NAME`,
//!   default the host of the address). The client presents a certificate when
//!   `RACTOR_TEST_TLS_CLIENT_CERT` names a PEM holding a key and its chain, or else when
//!   `--tls-cert/--tls-key` are given (as the Python CLI does).
//! * SIGTERM / SIGINT stop the NodeServer; the process prints `stopped` and exits 0.
//! * `RUST_LOG=error|warn|info|debug|trace` (default `warn`) sets the level of the crates'
//!   tracing output, written to stderr.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Write};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::rpc::CallResult;
use ractor::{
    call_t, pg, Actor, ActorCell, ActorProcessingErr, ActorRef, MessagingErr, RactorErr,
    RpcReplyPort,
};
use ractor_cluster::node::{NodeConnectionMode, NodeServerSessionInformation};
use ractor_cluster::{
    ClientConnectErr, IncomingEncryptionMode, NodeEventSubscription, NodeServer, NodeServerMessage,
    NodeSessionMessage,
};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::{TlsAcceptor, TlsConnector};

// ------------------------------------------------------------------------------------------
// The counter actor (mirrors node_app.py's CounterMsg / CounterActor)
// ------------------------------------------------------------------------------------------

// The message enums are the ones `ractor-derive gen --lang rust` writes from the Python
// declarations in tests/ractor_cluster/node_app.py (CounterMsg, HelloMsg); a test keeps the
// generated file fresh.
#[path = "../generated/node_app.rs"]
mod node_app;
use node_app::{CounterMsg, HelloMsg};

const HELLO_GROUP: &str = "hello";

struct HelloActor;

impl Actor for HelloActor {
    type Msg = HelloMsg;
    type State = u32;
    type Arguments = ();

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        _args: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        pg::join(HELLO_GROUP.to_string(), vec![myself.get_cell()]);
        Ok(0)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        count: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            HelloMsg::Hey(text) => {
                *count += 1;
                if *count <= 10 {
                    for member in pg::get_members(&HELLO_GROUP.to_string()) {
                        if !member.get_id().is_local() {
                            let remote: ActorRef<HelloMsg> = ActorRef::from(member);
                            let _ = remote.cast(HelloMsg::Hey(text.clone()));
                        }
                    }
                }
            }
            HelloMsg::IsDone(reply) => {
                let _ = reply.send(*count >= 10);
            }
        }
        Ok(())
    }
}

/// An actor whose message type is a plain String (remotable through the blanket impl).
struct StringsActor;

impl Actor for StringsActor {
    type Msg = String;
    type State = ();
    type Arguments = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        _args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        _state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        RECEIVED_STRINGS.lock().unwrap().push(message);
        Ok(())
    }
}

static RECEIVED_STRINGS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

struct CounterActor;

#[derive(Default)]
struct Tally {
    total: i64,
    notes: Vec<String>,
    mixed: Vec<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Actor for CounterActor {
    type Msg = CounterMsg;
    type State = Tally;
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        _args: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(Tally::default())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            CounterMsg::Add(n) => state.total = state.total.wrapping_add(n),
            CounterMsg::Note(text) => state.notes.push(text),
            CounterMsg::Mixed(small, big, ratio, letter, flags, raw) => {
                let flags: Vec<&str> = flags
                    .iter()
                    .map(|f| if *f { "true" } else { "false" })
                    .collect();
                state.mixed.push(format!(
                    "Mixed(small={small} big={big} ratio={ratio:?} letter='{letter}' flags=[{}] raw={})",
                    flags.join(","),
                    hex(&raw)
                ));
            }
            CounterMsg::Get(reply) => {
                let _ = reply.send(state.total);
            }
            CounterMsg::Echo(text, reply) => {
                let _ = reply.send(text);
            }
            CounterMsg::Notes(reply) => {
                // Python's len(str): the number of code points
                let _ = reply.send(
                    state
                        .notes
                        .iter()
                        .map(|n| n.chars().count() as u32)
                        .collect(),
                );
            }
            CounterMsg::Slow(ms, reply) => {
                tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
                let _ = reply.send(true);
            }
            CounterMsg::Summary(reply) => {
                let summary =
                    json!({"total": state.total, "notes": state.notes, "mixed": state.mixed});
                let _ = reply.send(summary.to_string());
            }
            CounterMsg::Bytes(count, text, reply) => {
                let _ = reply.send(text.as_bytes().repeat(usize::from(count)));
            }
        }
        Ok(())
    }
}

const TEST_GROUP: &str = "test";

static NODE_NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn ctx_name() -> String {
    NODE_NAME.get().cloned().unwrap_or_default()
}

// ------------------------------------------------------------------------------------------
// Output
// ------------------------------------------------------------------------------------------

fn emit_line(line: &str) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn emit(value: Value) {
    emit_line(&value.to_string());
}

struct Events;

impl Events {
    fn emit(kind: &str, info: &NodeServerSessionInformation) {
        let peer = info.peer_name.as_ref().map(|p| p.name.clone());
        emit(
            json!({"event": kind, "peer": peer, "node_id": info.node_id, "server": info.is_server}),
        );
    }
}

impl NodeEventSubscription for Events {
    fn node_session_opened(&self, ses: NodeServerSessionInformation) {
        Self::emit("opened", &ses);
    }
    fn node_session_disconnected(&self, ses: NodeServerSessionInformation) {
        Self::emit("disconnected", &ses);
    }
    fn node_session_authenticated(&self, ses: NodeServerSessionInformation) {
        Self::emit("authenticated", &ses);
    }
    fn node_session_ready(&self, ses: NodeServerSessionInformation) {
        Self::emit("ready", &ses);
    }
}

// ------------------------------------------------------------------------------------------
// Commands
// ------------------------------------------------------------------------------------------

/// A failed command: (error kind, text), printed as `{"ok": false, "error", "text"}`.
type Fail = (String, String);

fn fail(kind: &str, text: impl Into<String>) -> Fail {
    (kind.to_string(), text.into())
}

fn ractor_fail<T>(err: RactorErr<T>) -> Fail {
    match err {
        RactorErr::Timeout => fail("CallTimeout", "the call timed out"),
        RactorErr::Messaging(MessagingErr::ChannelClosed) => {
            fail("ReplyDropped", "the reply port was dropped without a reply")
        }
        RactorErr::Messaging(MessagingErr::SendErr(_)) => {
            fail("MessagingError", "the actor is not running")
        }
        RactorErr::Messaging(MessagingErr::InvalidActorType) => fail(
            "MessagingError",
            "the actor does not handle this message type",
        ),
        RactorErr::Spawn(e) => fail("SpawnError", e.to_string()),
        RactorErr::Actor(e) => fail("ActorProcessingError", e.to_string()),
    }
}

/// One parsed command line: every field kept as raw JSON, so that u128 values survive.
struct Cmd(HashMap<String, Box<RawValue>>);

impl Cmd {
    fn raw(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|v| v.get()).filter(|v| *v != "null")
    }

    fn get<T: for<'de> serde::Deserialize<'de>>(&self, key: &str) -> Result<T, Fail> {
        let raw = self
            .raw(key)
            .ok_or_else(|| fail("KeyError", format!("'{key}'")))?;
        serde_json::from_str(raw).map_err(|e| fail("ValueError", format!("field {key}: {e}")))
    }

    fn opt<T: for<'de> serde::Deserialize<'de>>(&self, key: &str) -> Result<Option<T>, Fail> {
        match self.raw(key) {
            None => Ok(None),
            Some(_) => self.get(key).map(Some),
        }
    }

    /// A u128 given as a JSON integer (or as a decimal string).
    fn get_u128(&self, key: &str) -> Result<u128, Fail> {
        let raw = self
            .raw(key)
            .ok_or_else(|| fail("KeyError", format!("'{key}'")))?;
        let text = if raw.starts_with('"') {
            serde_json::from_str::<String>(raw).map_err(|e| fail("ValueError", e.to_string()))?
        } else {
            raw.to_string()
        };
        text.trim()
            .parse::<u128>()
            .map_err(|e| fail("ValueError", format!("field {key}: {e}")))
    }

    fn bytes_hex(&self, key: &str) -> Result<Vec<u8>, Fail> {
        let text: String = self.get(key)?;
        let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if !text.len().is_multiple_of(2) || !text.is_ascii() {
            return Err(fail("ValueError", format!("field {key}: not a hex string")));
        }
        (0..text.len())
            .step_by(2)
            .map(|i| {
                u8::from_str_radix(&text[i..i + 2], 16)
                    .map_err(|e| fail("ValueError", format!("field {key}: {e}")))
            })
            .collect()
    }

    fn scope(&self) -> Result<String, Fail> {
        Ok(self
            .opt::<String>("scope")?
            .unwrap_or_else(|| pg::DEFAULT_SCOPE.to_string()))
    }
}

/// How `connect` dials: plain TCP, or TLS trusting a CA.
#[derive(Clone)]
struct ClientTls {
    connector: TlsConnector,
    server_name: Option<String>,
}

struct Ctx {
    node: ActorRef<NodeServerMessage>,
    tls: Option<ClientTls>,
}

async fn connect(ctx: &Ctx, address: &str) -> Result<(), Fail> {
    let result = match &ctx.tls {
        None => ractor_cluster::client_connect(&ctx.node, address).await,
        Some(tls) => {
            let name = match &tls.server_name {
                Some(name) => name.clone(),
                None => host_of(address),
            };
            let domain = ServerName::try_from(name.clone())
                .map_err(|e| fail("ValueError", format!("bad TLS server name {name:?}: {e}")))?;
            ractor_cluster::client_connect_enc(&ctx.node, address, tls.connector.clone(), domain)
                .await
        }
    };
    result.map_err(|e| match e {
        ClientConnectErr::Socket(e) => fail("SocketConnectError", format!("{address}: {e}")),
        ClientConnectErr::Messaging(_) => {
            fail("MessagingConnectError", "the NodeServer is not running")
        }
        ClientConnectErr::Encryption(e) => {
            fail("EncryptionConnectError", format!("{address}: {e}"))
        }
    })
}

fn host_of(address: &str) -> String {
    let host = match address.rfind(':') {
        Some(i) => &address[..i],
        None => address,
    };
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

async fn sessions(ctx: &Ctx) -> Result<Vec<NodeServerSessionInformation>, Fail> {
    let map = call_t!(ctx.node, NodeServerMessage::GetSessions, 2000).map_err(ractor_fail)?;
    let mut infos: Vec<_> = map.into_values().collect();
    infos.sort_by_key(|i| i.node_id);
    Ok(infos)
}

/// Every remote actor (proxy) known: the children of the authenticated sessions, plus the
/// remote members of every process group.
async fn remote_cells(ctx: &Ctx) -> Result<Vec<ActorCell>, Fail> {
    let mut seen = HashSet::new();
    let mut cells = Vec::new();
    for info in sessions(ctx).await? {
        for child in info.actor.get_children() {
            if !child.get_id().is_local() && seen.insert(child.get_id()) {
                cells.push(child);
            }
        }
    }
    for key in pg::which_scopes_and_groups() {
        for member in pg::get_scoped_members(&key.get_scope(), &key.get_group()) {
            if !member.get_id().is_local() && seen.insert(member.get_id()) {
                cells.push(member);
            }
        }
    }
    Ok(cells)
}

async fn target(ctx: &Ctx, cmd: &Cmd) -> Result<ActorRef<CounterMsg>, Fail> {
    let to: String = cmd.get("to")?;
    let mut found: Vec<ActorCell> = remote_cells(ctx)
        .await?
        .into_iter()
        .filter(|c| c.get_name().as_deref() == Some(to.as_str()))
        .collect();
    // the newest session first (a reconnect gives a higher node id)
    found.sort_by_key(|c| std::cmp::Reverse((c.get_id().node(), c.get_id().pid())));
    match found.into_iter().next() {
        Some(cell) => Ok(ActorRef::from(cell)),
        None => Err(fail("LookupError", format!("no remote actor named '{to}'"))),
    }
}

fn local(name: &str) -> Result<ActorCell, Fail> {
    ractor::registry::where_is(name)
        .ok_or_else(|| fail("AssertionError", format!("no local actor named '{name}'")))
}

fn cast_message(cmd: &Cmd) -> Result<CounterMsg, Fail> {
    let msg: String = cmd.get("msg")?;
    Ok(match msg.as_str() {
        "add" => CounterMsg::Add(cmd.get("n")?),
        "note" => CounterMsg::Note(cmd.get("text")?),
        "mixed" => CounterMsg::Mixed(
            cmd.get("small")?,
            cmd.get_u128("big")?,
            cmd.get("ratio")?,
            cmd.get("letter")?,
            cmd.get("flags")?,
            cmd.bytes_hex("raw")?,
        ),
        "get" | "echo" | "notes" | "slow" | "summary" | "bytes" => {
            return Err(fail("ValueError", format!("{msg} is a call, not a cast")))
        }
        other => return Err(fail("KeyError", format!("'{other}'"))),
    })
}

async fn call_counter<R, F>(
    actor: &ActorRef<CounterMsg>,
    build: F,
    timeout_ms: Option<u64>,
) -> Result<R, Fail>
where
    R: Send + 'static,
    F: FnOnce(RpcReplyPort<R>) -> CounterMsg,
{
    let started = std::time::Instant::now();
    let result: Result<R, RactorErr<CounterMsg>> = match timeout_ms {
        Some(ms) => call_t!(actor, build, ms),
        None => match actor.call(build, None).await {
            Ok(CallResult::Success(value)) => Ok(value),
            Ok(other) => Err(RactorErr::from(other)),
            Err(e) => Err(RactorErr::from(e)),
        },
    };
    result.map_err(|e| match (e, timeout_ms) {
        // A call to a remote actor goes through the derive's reply-port bridge, which starts
        // waiting (with the same timeout) a moment before call_t! does, and drops the typed port
        // when its own wait expires: call_t! then mostly reports a closed channel, not a
        // timeout. A closed channel at or after the deadline is reported as the timeout it is.
        (RactorErr::Messaging(MessagingErr::ChannelClosed), Some(ms))
            if started.elapsed() >= Duration::from_millis(ms) =>
        {
            fail("CallTimeout", format!("no reply within {ms} ms"))
        }
        (e, _) => ractor_fail(e),
    })
}

async fn call_message(actor: &ActorRef<CounterMsg>, cmd: &Cmd) -> Result<Value, Fail> {
    let msg: String = cmd.get("msg")?;
    // node_app.py passes `timeout` (seconds) to ActorRef.call; call_t! takes milliseconds
    let timeout_ms = cmd
        .opt::<f64>("timeout")?
        .map(|s| (s * 1000.0).max(0.0) as u64);
    Ok(match msg.as_str() {
        "get" => json!(call_counter(actor, CounterMsg::Get, timeout_ms).await?),
        "echo" => {
            let text: String = cmd.get("text")?;
            json!(call_counter(actor, move |p| CounterMsg::Echo(text, p), timeout_ms).await?)
        }
        "notes" => json!(call_counter(actor, CounterMsg::Notes, timeout_ms).await?),
        "slow" => {
            let ms: u32 = cmd.get("ms")?;
            json!(call_counter(actor, move |p| CounterMsg::Slow(ms, p), timeout_ms).await?)
        }
        "summary" => json!(call_counter(actor, CounterMsg::Summary, timeout_ms).await?),
        "bytes" => {
            let count: u8 = cmd.get("count")?;
            let text: String = cmd.get("text")?;
            let build = move |p| CounterMsg::Bytes(count, text, p);
            json!(hex(&call_counter(actor, build, timeout_ms).await?))
        }
        "add" | "note" | "mixed" => {
            return Err(fail("ValueError", format!("{msg} is a cast, not a call")))
        }
        other => return Err(fail("KeyError", format!("'{other}'"))),
    })
}

/// Nearest-rank percentile of sorted ns samples, in µs (integer rank: as node_app.py).
fn percentile_us(sorted_ns: &[u128], percent: usize) -> f64 {
    let rank = (sorted_ns.len() * percent).div_ceil(100);
    sorted_ns[rank.max(1) - 1] as f64 / 1000.0
}

/// `bench_cast` {to, n}: n casts of Add(1), then a Get call (60 s) once all arrived.
async fn bench_cast(actor: &ActorRef<CounterMsg>, n: u64) -> Result<Value, Fail> {
    let started = Instant::now();
    for _ in 0..n {
        actor
            .cast(CounterMsg::Add(1))
            .map_err(|e| ractor_fail(RactorErr::from(e)))?;
    }
    let total: i64 = call_counter(actor, CounterMsg::Get, Some(60_000)).await?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(json!({"seconds": seconds, "rate": n as f64 / seconds, "total": total}))
}

/// `bench_call` {to, n}: n sequential Echo("ping") calls (5 s each); round trips in µs.
async fn bench_call(actor: &ActorRef<CounterMsg>, n: usize) -> Result<Value, Fail> {
    if n < 1 {
        return Err(fail("ValueError", "bench_call needs n >= 1"));
    }
    let mut samples: Vec<u128> = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let answer =
            call_t!(actor, CounterMsg::Echo, 5000, "ping".to_string()).map_err(ractor_fail)?;
        samples.push(started.elapsed().as_nanos());
        if answer != "ping" {
            return Err(fail("ValueError", format!("Echo answered {answer:?}")));
        }
    }
    samples.sort_unstable();
    let mean_us = samples.iter().sum::<u128>() as f64 / samples.len() as f64 / 1000.0;
    Ok(json!({
        "p50_us": percentile_us(&samples, 50),
        "p99_us": percentile_us(&samples, 99),
        "mean_us": mean_us,
    }))
}

async fn execute(ctx: &Ctx, cmd: &Cmd) -> Result<Value, Fail> {
    let op: String = cmd.get("op")?;
    match op.as_str() {
        "connect" => {
            let address: String = cmd.get("address")?;
            connect(ctx, &address).await?;
            Ok(json!(true))
        }
        "session_details" => {
            let mut details: Vec<(String, bool)> = sessions(ctx)
                .await?
                .into_iter()
                .filter_map(|i| i.peer_name.map(|p| (p.name, i.is_server)))
                .collect();
            details.sort();
            Ok(json!(details
                .into_iter()
                .map(|(n, s)| json!([n, s]))
                .collect::<Vec<_>>()))
        }
        "sessions" => {
            let mut names: Vec<String> = sessions(ctx)
                .await?
                .into_iter()
                .filter_map(|i| i.peer_name.map(|p| p.name))
                .collect();
            names.sort();
            Ok(json!(names))
        }
        "ready" => {
            let mut states = Vec::new();
            for info in sessions(ctx).await? {
                let ready = call_t!(info.actor, NodeSessionMessage::GetReadyState, 2000)
                    .map_err(ractor_fail)?;
                states.push(ready);
            }
            Ok(json!(states))
        }
        "remote_actors" => {
            let mut actors: Vec<(u64, Option<String>)> = remote_cells(ctx)
                .await?
                .into_iter()
                .map(|c| (c.get_id().pid(), c.get_name()))
                .collect();
            actors.sort();
            Ok(json!(actors
                .into_iter()
                .map(|(pid, name)| json!([pid, name]))
                .collect::<Vec<_>>()))
        }
        "cast" => {
            let actor = target(ctx, cmd).await?;
            let message = cast_message(cmd)?;
            actor
                .cast(message)
                .map_err(|e| ractor_fail(RactorErr::from(e)))?;
            Ok(json!(true))
        }
        "call" => {
            let actor = target(ctx, cmd).await?;
            call_message(&actor, cmd).await
        }
        "bench_cast" => bench_cast(&target(ctx, cmd).await?, cmd.get("n")?).await,
        "bench_call" => bench_call(&target(ctx, cmd).await?, cmd.get("n")?).await,
        "spawn" => {
            let name: String = cmd.get("name")?;
            let groups: Vec<String> = cmd.opt("groups")?.unwrap_or_default();
            let scope = cmd.scope()?;
            let (actor, _) = Actor::spawn(Some(name), CounterActor, ())
                .await
                .map_err(|e| fail("SpawnError", e.to_string()))?;
            for group in groups {
                pg::join_scoped(scope.clone(), group, vec![actor.get_cell()]);
            }
            Ok(json!(actor.get_id().pid()))
        }
        "stop" => {
            let name: String = cmd.get("name")?;
            let cell = local(&name)?;
            cell.stop_and_wait(None, Some(Duration::from_secs(5)))
                .await
                .map_err(|e| match e {
                    RactorErr::Timeout => {
                        fail("WaitTimeout", format!("{name} did not stop in 5 s"))
                    }
                    other => ractor_fail(other),
                })?;
            Ok(json!(true))
        }
        "join" | "leave" => {
            let name: String = cmd.get("name")?;
            let group: String = cmd.get("group")?;
            let scope = cmd.scope()?;
            let cell = local(&name)?;
            if op == "join" {
                pg::join_scoped(scope, group, vec![cell]);
            } else {
                pg::leave_scoped(scope, group, vec![cell]);
            }
            Ok(json!(true))
        }
        "members" => {
            let group: String = cmd.get("group")?;
            let scope = cmd.scope()?;
            let mut members: Vec<(Option<String>, bool)> = pg::get_scoped_members(&scope, &group)
                .into_iter()
                .map(|c| (c.get_name(), c.get_id().is_local()))
                .collect();
            members.sort();
            Ok(json!(members
                .into_iter()
                .map(|(n, l)| json!([n, l]))
                .collect::<Vec<_>>()))
        }
        "hello_start" => {
            let hello: ActorRef<HelloMsg> = ActorRef::from(local(&format!("hello-{}", ctx_name()))?);
            hello
                .cast(HelloMsg::Hey("Hey there".to_string()))
                .map_err(|e| fail("MessagingError", e.to_string()))?;
            Ok(json!(true))
        }
        "hello_done" => {
            let hello: ActorRef<HelloMsg> = ActorRef::from(local(&format!("hello-{}", ctx_name()))?);
            match call_t!(hello, HelloMsg::IsDone, 500) {
                Ok(done) => Ok(json!(done)),
                Err(e) => Err(ractor_fail(e)),
            }
        }
        "strings" => Ok(json!(RECEIVED_STRINGS.lock().unwrap().clone())),
        "cast_string" => {
            let to: String = cmd.get("to")?;
            let text: String = cmd.get("text")?;
            let cell = remote_cells(ctx)
                .await?
                .into_iter()
                .find(|c| c.get_name().as_deref() == Some(to.as_str()))
                .ok_or_else(|| fail("LookupError", format!("no remote actor named '{to}'")))?;
            let remote: ActorRef<String> = ActorRef::from(cell);
            remote
                .cast(text)
                .map_err(|e| fail("MessagingError", e.to_string()))?;
            Ok(json!(true))
        }
        "local_summary" => {
            let name: String = cmd.get("name")?;
            let actor: ActorRef<CounterMsg> = ActorRef::from(local(&name)?);
            let text: String = call_counter(&actor, CounterMsg::Summary, Some(2000)).await?;
            serde_json::from_str(&text).map_err(|e| fail("ValueError", e.to_string()))
        }
        other => Err(fail("ValueError", format!("unknown op '{other}'"))),
    }
}

async fn serve_commands(ctx: Ctx, mut lines: tokio::sync::mpsc::UnboundedReceiver<String>) {
    while let Some(line) = lines.recv().await {
        if line.trim().is_empty() {
            continue;
        }
        let cmd = match serde_json::from_str::<HashMap<String, Box<RawValue>>>(&line) {
            Ok(fields) => Cmd(fields),
            Err(e) => {
                eprintln!("peer: ignoring a malformed command line ({e}): {line}");
                continue;
            }
        };
        let id: Value = cmd
            .0
            .get("id")
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
            .unwrap_or(Value::Null);
        match execute(&ctx, &cmd).await {
            Ok(result) => emit(json!({"id": id, "ok": true, "result": result})),
            Err((kind, text)) => emit(json!({"id": id, "ok": false, "error": kind, "text": text})),
        }
    }
}

// ------------------------------------------------------------------------------------------
// Startup
// ------------------------------------------------------------------------------------------

struct Args {
    name: String,
    host: String,
    port: u16,
    cookie: String,
    connect: Vec<String>,
    transitive: bool,
    listen: Option<IpAddr>,
    max_frame: Option<u64>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    tls_client_ca: Option<String>,
    tls_ca: Option<String>,
    tls_server_name: Option<String>,
}

const USAGE: &str = "usage: peer --name NAME [--host HOST] [--port PORT] \
(--cookie C | --cookie-file F) [--connect HOST:PORT]... [--transitive] [--listen IP] \
[--max-frame BYTES] [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]] \
[--tls-ca PEM [--tls-server-name NAME]] [--app tests.ractor_cluster.node_app]";

fn usage_error(text: &str) -> ! {
    eprintln!("peer: {text}\n{USAGE}");
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut name = None;
    let mut host = "localhost".to_string();
    let mut port = 0u16;
    let mut cookie = None;
    let mut cookie_file: Option<String> = None;
    let mut args = Args {
        name: String::new(),
        host: String::new(),
        port: 0,
        cookie: String::new(),
        connect: Vec::new(),
        transitive: false,
        listen: None,
        max_frame: None,
        tls_cert: None,
        tls_key: None,
        tls_client_ca: None,
        tls_ca: None,
        tls_server_name: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if flag == "--transitive" {
            args.transitive = true;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .unwrap_or_else(|| usage_error(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--name" => name = Some(value()),
            "--host" => host = value(),
            "--port" => {
                port = value()
                    .parse()
                    .unwrap_or_else(|_| usage_error("--port: not a port"))
            }
            "--cookie" => cookie = Some(value()),
            "--cookie-file" => cookie_file = Some(value()),
            "--connect" => args.connect.push(value()),
            "--listen" => {
                args.listen = Some(
                    value()
                        .parse()
                        .unwrap_or_else(|_| usage_error("--listen: not an IP address")),
                )
            }
            "--max-frame" => {
                args.max_frame = Some(
                    value()
                        .parse()
                        .unwrap_or_else(|_| usage_error("--max-frame: not a number")),
                )
            }
            "--tls-cert" => args.tls_cert = Some(value()),
            "--tls-key" => args.tls_key = Some(value()),
            "--tls-client-ca" => args.tls_client_ca = Some(value()),
            "--tls-ca" => args.tls_ca = Some(value()),
            "--app" => {
                let app = value();
                if app != "tests.ractor_cluster.node_app" {
                    usage_error(&format!("--app {app}: this binary only runs node_app"));
                }
            }
            "--tls-server-name" => args.tls_server_name = Some(value()),
            other => usage_error(&format!("unknown argument {other}")),
        }
    }
    args.name = name.unwrap_or_else(|| usage_error("--name is required"));
    args.host = host;
    args.port = port;
    args.cookie = match (cookie, cookie_file) {
        (Some(c), None) => c,
        (None, Some(f)) => match std::fs::read_to_string(&f) {
            Ok(text) => text.trim().to_string(),
            Err(e) => {
                eprintln!("peer: cannot read the cookie file: {e}");
                std::process::exit(2);
            }
        },
        (Some(_), Some(_)) => usage_error("--cookie and --cookie-file are exclusive"),
        (None, None) => usage_error("--cookie or --cookie-file is required"),
    };
    if args.tls_cert.is_some() != args.tls_key.is_some() {
        usage_error("--tls-cert and --tls-key go together");
    }
    if args.tls_client_ca.is_some() && args.tls_cert.is_none() {
        usage_error("--tls-client-ca needs --tls-cert and --tls-key");
    }
    args
}

/// ractor_cluster offers no way to learn the port its listener bound, so port 0 is replaced by
/// a port that was free a moment ago (bound and released here, on the same wildcard address).
fn free_port(listen: Option<IpAddr>) -> std::io::Result<u16> {
    let probe = match listen {
        Some(ip) => std::net::TcpListener::bind((ip, 0))?,
        None => std::net::TcpListener::bind("[::]:0")
            .or_else(|_| std::net::TcpListener::bind("0.0.0.0:0"))?,
    };
    Ok(probe.local_addr()?.port())
}

fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{path}: no certificate"));
    }
    Ok(certs)
}

fn load_key(path: &str) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| format!("{path}: {e}"))
}

fn load_roots(path: &str) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in load_certs(path)? {
        roots.add(cert).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(roots)
}

fn server_tls(cert: &str, key: &str, client_ca: Option<&str>) -> Result<TlsAcceptor, String> {
    let builder = rustls::ServerConfig::builder();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(load_roots(ca)?))
                .build()
                .map_err(|e| format!("{ca}: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(load_certs(cert)?, load_key(key)?)
        .map_err(|e| e.to_string())?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// `identity`: (certificate chain PEM, private key PEM) to present, if any.
fn client_tls(ca: &str, identity: Option<(&str, &str)>) -> Result<TlsConnector, String> {
    let builder = rustls::ClientConfig::builder().with_root_certificates(load_roots(ca)?);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
            .map_err(|e| e.to_string())?,
    };
    Ok(TlsConnector::from(Arc::new(config)))
}

fn init_logging() {
    use tracing_subscriber::filter::LevelFilter;
    let level = match std::env::var("RUST_LOG")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .as_str()
    {
        "off" => LevelFilter::OFF,
        "error" => LevelFilter::ERROR,
        "info" => LevelFilter::INFO,
        "debug" => LevelFilter::DEBUG,
        "trace" => LevelFilter::TRACE,
        _ => LevelFilter::WARN,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    init_logging();

    let encryption = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => match server_tls(cert, key, args.tls_client_ca.as_deref()) {
            Ok(acceptor) => Some(IncomingEncryptionMode::Tls(acceptor)),
            Err(e) => {
                eprintln!("peer: cannot load the TLS server certificate: {e}");
                std::process::exit(1);
            }
        },
        _ => None,
    };
    let env = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
    let client_ca = args.tls_ca.clone().or_else(|| env("RACTOR_TEST_TLS_CA"));
    let server_name = args
        .tls_server_name
        .clone()
        .or_else(|| env("RACTOR_TEST_TLS_SERVER_NAME"));
    let client_cert = env("RACTOR_TEST_TLS_CLIENT_CERT");
    let identity = match (&client_cert, &args.tls_cert, &args.tls_key) {
        (Some(both), _, _) => Some((both.as_str(), both.as_str())),
        (None, Some(cert), Some(key)) => Some((cert.as_str(), key.as_str())),
        _ => None,
    };
    let tls = match &client_ca {
        Some(ca) => match client_tls(ca, identity) {
            Ok(connector) => Some(ClientTls {
                connector,
                server_name,
            }),
            Err(e) => {
                eprintln!("peer: cannot load the TLS CA: {e}");
                std::process::exit(1);
            }
        },
        None => None,
    };

    let port = if args.port == 0 {
        match free_port(args.listen) {
            Ok(port) => port,
            Err(e) => {
                eprintln!("peer: cannot find a free port: {e}");
                std::process::exit(1);
            }
        }
    } else {
        args.port
    };
    let mode = if args.transitive {
        NodeConnectionMode::Transitive
    } else {
        NodeConnectionMode::Isolated
    };
    let mut server = NodeServer::new(
        port,
        args.cookie.clone(),
        args.name.clone(),
        args.host.clone(),
        encryption,
        Some(mode),
    );
    if let Some(ip) = args.listen {
        server = server.with_listen_addr(ip);
    }
    if let Some(limit) = args.max_frame {
        server = server.with_max_inbound_frame_size(limit);
    }
    let node = match Actor::spawn(Some("node_server".to_string()), server, ()).await {
        Ok((node, _)) => node,
        Err(e) => {
            eprintln!("ractor-cluster: cannot start the node: {e}");
            std::process::exit(1);
        }
    };
    // the listener has bound by now: NodeServer::pre_start waits for it
    emit_line(&format!("listening on {}:{}", args.host, port));

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");

    let _ = node.cast(NodeServerMessage::SubscribeToEvents {
        id: "test".to_string(),
        subscription: Box::new(Events),
    });
    let counter = match Actor::spawn(Some(format!("counter-{}", args.name)), CounterActor, ()).await
    {
        Ok((counter, _)) => counter,
        Err(e) => {
            eprintln!("peer: cannot spawn the counter: {e}");
            std::process::exit(1);
        }
    };
    pg::join(TEST_GROUP.to_string(), vec![counter.get_cell()]);
    let _ = NODE_NAME.set(args.name.clone());
    if let Err(e) = Actor::spawn(Some(format!("hello-{}", args.name)), HelloActor, ()).await {
        eprintln!("peer: cannot spawn the hello actor: {e}");
        std::process::exit(1);
    }
    let shared = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    if let Err(e) = Actor::spawn(Some(format!("strings-{}", args.name)), StringsActor, shared).await
    {
        eprintln!("peer: cannot spawn the strings actor: {e}");
        std::process::exit(1);
    }

    // stdin is read on a plain thread (tokio's stdin would keep the runtime from exiting)
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(line) => {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    });
    let ctx = Ctx {
        node: node.clone(),
        tls: tls.clone(),
    };
    tokio::spawn(serve_commands(ctx, rx));

    let dial = Ctx {
        node: node.clone(),
        tls,
    };
    for address in &args.connect {
        if let Err((kind, text)) = connect(&dial, address).await {
            eprintln!("ractor-cluster: {kind}: {text}");
        }
    }

    tokio::select! {
        _ = sigterm.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    let _ = node
        .stop_and_wait(Some("shutdown".to_string()), Some(Duration::from_secs(10)))
        .await;
    emit_line("stopped");
    std::process::exit(0);
}
