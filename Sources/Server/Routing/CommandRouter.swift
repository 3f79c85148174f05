import KVStore
import MultiRaft
import NIOConcurrencyHelpers
import NIOCore
import ShardRouter
#if canImport(Glibc)
import Glibc
#endif
import SystemClock

/// Per-connection routing state.
struct RouteSession: Sendable {
    /// The session under which this connection's writes are deduplicated in the shards.
    var clientID = UInt64.random(in: 1...UInt64.max)
    var sequence: UInt64 = 0
    /// READONLY: reads are served by any local replica without confirming leadership.
    var readOnly = false
    /// The slot of the connection's last write, for WAIT.
    var lastWriteSlot: Slot?
}

/// Routes data commands: key → slot → shard → the Raft group's leader. A write is proposed
/// where this node leads the shard, otherwise forwarded to the leader (or answered with
/// `-MOVED` when configured); a read is served linearizably (ReadIndex) by any local replica,
/// otherwise forwarded.
final class CommandRouter: @unchecked Sendable {
    let node: ClusterNode
    let limits: CommandParser.Limits
    let redirectWithMoved: Bool
    let timeoutMillis: Int
    let loop: any EventLoop
    /// The planted bug `moved-after-append` (fault testing only): appends are forgotten.
    let forgetsAppends: Bool
    /// SCAN cursors: id → (shard position, last key returned).
    private let cursors = NIOLockedValueBox<(next: UInt64, open: [UInt64: (shard: Int, after: [UInt8])])>((1, [:]))
    static let maxHops: UInt8 = 3

    /// The commands this router answers (the table's routed ones).
    static let names: Set<String> = CommandTable.routedNames

    init(node: ClusterNode, config: NodeConfig, loop: any EventLoop, plantedBugs: PlantedBugs = PlantedBugs()) {
        forgetsAppends = plantedBugs.movedAfterAppend
        self.node = node
        limits = CommandParser.Limits(maxKeyBytes: config.maxKeyBytes, maxValueBytes: config.maxValueBytes)
        redirectWithMoved = config.redirectWithMoved
        timeoutMillis = config.requestTimeoutMilliseconds
        self.loop = loop
    }

    typealias Reply = @Sendable (RESPValue) -> Void

    /// Executes one command; `reply` is called exactly once, on any thread.
    /// `name` is the upper-cased `args[0]` when the caller has it already. A command forwarded
    /// from another node gives up within `budgetMillis`, what was left of that node's deadline.
    func execute(_ args: [[UInt8]], name: String? = nil, session: inout RouteSession, hops: UInt8, budgetMillis: Int? = nil, reply: @escaping Reply) {
        let name = name ?? String(decoding: args[0], as: UTF8.self).uppercased()
        let deadline = monotonicSeconds() + Double(min(timeoutMillis, budgetMillis ?? timeoutMillis)) / 1000
        switch name {
        case "READONLY", "READWRITE":
            session.readOnly = name == "READONLY"
            reply(.ok)
        case "CLUSTER":
            reply(ClusterCommands.reply(Array(args.dropFirst()), node: node))
        case "MYSTORE.STATUS":
            reply(.bulk(statusJSON()))
        case "DBSIZE":
            dbsize(deadline: deadline, reply: reply)
        case "FLUSHALL", "FLUSHDB":
            flush(args.dropFirst().map { String(decoding: $0, as: UTF8.self).uppercased() }, reply: reply)
        case "INFO":
            info(args.dropFirst().map { String(decoding: $0, as: UTF8.self) }, deadline: deadline, reply: reply)
        case "SCAN":
            scan(Array(args.dropFirst()), deadline: deadline, reply: reply)
        case "WAIT":
            wait(Array(args.dropFirst()), session: session, deadline: deadline, reply: reply)
        case "MYSTORE.SHARDWAIT":
            shardWait(args, hops: hops, deadline: deadline, reply: reply)
        case "MYSTORE.SHARDCOUNT", "MYSTORE.SHARDSCAN", "MYSTORE.SHARDFLUSH":
            shardInternal(name, args, hops: hops, deadline: deadline, reply: reply)
        case _ where Self.adminNames.contains(name):
            executeAdmin(name, args, hops: hops, deadline: deadline, reply: reply)
        case "MYSTORE.EXEC":
            guard args.count >= 4, let cid = UInt64(String(decoding: args[1], as: UTF8.self)),
                  let seq = UInt64(String(decoding: args[2], as: UTF8.self)) else {
                return reply(.error("ERR usage: MYSTORE.EXEC <client-id> <sequence> <command> [args...]"))
            }
            let inner = Array(args.dropFirst(3))
            switch parse(inner, name: nil) {
            case .failure(let e): reply(e.value)
            case .success(.immediate(let value)): reply(value)
            case .success(.routed(let parsed)):
                route(parsed, args: args, clientID: cid, sequence: seq, readOnly: session.readOnly, hops: hops, deadline: deadline, reply: reply)
            }
        default:
            switch parse(args, name: name) {
            case .failure(let e):
                reply(e.value)
            case .success(.immediate(let value)):
                reply(value)
            case .success(.routed(let parsed)):
                var seq: UInt64 = 0
                if case .write(let keys, _, _) = parsed {
                    session.sequence += 1
                    seq = session.sequence
                    session.lastWriteSlot = keys.first.map { Slot(forKey: $0) }
                }
                route(parsed, args: args, clientID: session.clientID, sequence: seq, readOnly: session.readOnly, hops: hops, deadline: deadline, reply: reply)
            }
        }
    }

    // MARK: - Key commands

    /// A key command or a transaction (`MYSTORE.TXN`), parsed.
    private func parse(_ args: [[UInt8]], name: String?) -> Result<Transaction.Parsed, ErrorReply> {
        let name = name ?? String(decoding: args[0], as: UTF8.self).uppercased()
        if name == Transaction.commandName { return Transaction.parse(Array(args.dropFirst()), limits: limits) }
        return CommandParser.parse(args, name: name, limits: limits).map { .routed($0) }
    }

    private func route(_ parsed: ParsedCommand, args: [[UInt8]], clientID: UInt64, sequence: UInt64, readOnly: Bool,
                       hops: UInt8, deadline: Double, reply: @escaping Reply) {
        let keys = parsed.keys
        let slot = Slot(forKey: keys[0])
        for k in keys.dropFirst() where Slot(forKey: k) != slot {
            return reply(.error("CROSSSLOT Keys in request don't hash to the same slot"))
        }
        guard let shard = node.shardMap.shard(for: slot) else { return reply(.error("CLUSTERDOWN Hash slot not served")) }
        let group = ClusterNode.group(of: shard.id)
        attempt(group: group, shard: shard, slot: slot, parsed: parsed, args: args, clientID: clientID, sequence: sequence,
                readOnly: readOnly, hops: hops, deadline: deadline, reply: reply)
    }

    /// One try at a key command, retried every 40 ms until `deadline`.
    ///
    /// `appended` says whether an earlier try of this write may have put it into a Raft log
    /// (here, or on a node it was forwarded to). From then on the write's outcome is "applied"
    /// or "unknown", never "not executed": it is not answered with MOVED or TRYAGAIN (Redis
    /// clients retry those as if nothing had happened), but followed through the peer path
    /// under its session (client id, sequence), so a retry applies at most once and returns
    /// the original result; past the deadline it gets `-UNCERTAIN`. A write without a session
    /// cannot be retried safely, so it gets `-UNCERTAIN` as soon as its outcome is unknown.
    private func attempt(group: GroupID, shard: Shard, slot: Slot, parsed: ParsedCommand, args: [[UInt8]], clientID: UInt64,
                         sequence: UInt64, readOnly: Bool, hops: UInt8, deadline: Double, appended: Bool = false, reply: @escaping Reply) {
        let hasSession = clientID != 0 && sequence != 0
        let retry: @Sendable (_ appended: Bool) -> Void = { [self] appended in
            #if MYSTORE_PLANTED_BUGS
            let appended = appended && !forgetsAppends
            #endif
            guard monotonicSeconds() < deadline, hasSession || !appended else {
                return reply(appended ? Self.uncertain(shard) : .error("TRYAGAIN shard \(shard.id.rawValue) has no reachable leader; retry"))
            }
            loop.scheduleTask(in: .milliseconds(40)) { [self] in
                attempt(group: group, shard: shard, slot: slot, parsed: parsed, args: args, clientID: clientID, sequence: sequence,
                        readOnly: readOnly, hops: hops, deadline: deadline, appended: appended, reply: reply)
            }
        }
        let status = node.host.status(of: group)
        switch parsed {
        case .write(_, let command, let mapper):
            if status?.role == .leader {
                let request = KVRequest(clientID: clientID, sequence: sequence, timestampMillis: wallClockMillis(), command: command)
                NodeMetrics.shared.proposed(shard: shard.id.rawValue)
                node.host.propose(group, request.encoded(), timeoutMillis: Self.millis(until: deadline), returning: KVResult.self) { result in
                    switch result {
                    case .success(let r): reply(mapper(r))
                    case .failure(let e): retry(appended || e.isAfterAppend)
                    }
                }
                return
            }
            forwardOrRedirect(to: status?.leaderNode ?? preferredNode(shard), slot: slot, args: Self.forwardable(args, clientID: clientID, sequence: sequence),
                              hops: hops, deadline: deadline, write: true, appended: appended, retry: retry, reply: reply)
        case .read, .query:
            let body: @Sendable (KVStateMachine) -> RESPValue
            switch parsed {
            case .read(_, let b): body = b
            case let .query(_, read, mapper): body = { mapper($0.evaluate(read)) }
            case .write: return
            }
            // Served here only by a replica that knows a leader to confirm the read with; one
            // that knows none (an election, or a replica removed from the group while its node
            // was cut off, which never hears from a leader again) hands the read to the node the
            // shard map names.
            guard let status, status.leaderNode != nil || readOnly else {
                return forwardOrRedirect(to: preferredNode(shard), slot: slot, args: args, hops: hops, deadline: deadline, write: false, appended: false, retry: retry, reply: reply)
            }
            node.host.read(group, on: KVShardMachine.self, local: readOnly, { body($0.store) }) { result in
                switch result {
                case .success(let v): reply(v)
                case .failure(.timeout): reply(.error("TRYAGAIN timed out waiting for shard \(shard.id.rawValue); retry"))
                case .failure: retry(false)
                }
            }
        }
    }

    /// The reply to a write whose outcome this node cannot learn before its deadline. No Redis
    /// client retries this code on its own (see docs/compatibility.md).
    static func uncertain(_ shard: Shard) -> RESPValue {
        .error("UNCERTAIN outcome unknown: the write to shard \(shard.id.rawValue) may or may not take effect; retry it only under the same MYSTORE.EXEC session")
    }

    /// Milliseconds left until `deadline` (at least 1).
    static func millis(until deadline: Double) -> Int64 { max(1, Int64((deadline - monotonicSeconds()) * 1000)) }

    private func preferredNode(_ shard: Shard) -> NodeID? {
        (shard.leaderHint ?? shard.preferredLeader).flatMap { node.node(of: $0) }
    }

    static let execName = Array("MYSTORE.EXEC".utf8)

    /// A write as forwarded to another node: wrapped in MYSTORE.EXEC with its session, so a
    /// retry anywhere applies once (unless it already is).
    static func forwardable(_ args: [[UInt8]], clientID: UInt64, sequence: UInt64) -> [[UInt8]] {
        guard sequence != 0, args.first.map({ $0.map(asciiUpper) }) != execName else { return args }
        return [execName, Array(String(clientID).utf8), Array(String(sequence).utf8)] + args
    }

    private static func asciiUpper(_ c: UInt8) -> UInt8 { c >= 97 && c <= 122 ? c - 32 : c }

    /// Error codes that Redis clients read as "the command was not executed" and retry by
    /// themselves. A write that may be in a Raft log never gets one of them.
    static let notExecutedCodes: Set<String> = ["MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "LOADING", "READONLY"]

    /// Whether RESP reply bytes are an error with one of `notExecutedCodes`.
    static func isNotExecuted(_ bytes: [UInt8]) -> Bool {
        errorCode(bytes).map(notExecutedCodes.contains) ?? false
    }

    /// The code of an error reply's bytes (`TRYAGAIN`), or nil for any other reply.
    static func errorCode(_ bytes: [UInt8]) -> String? {
        guard bytes.first == UInt8(ascii: "-") else { return nil }
        return String(decoding: bytes.dropFirst().prefix { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") }, as: UTF8.self)
    }

    /// Sends the command to `target`, or redirects the client there with `-MOVED` when so
    /// configured and the write cannot have been appended yet. A write's reply from the
    /// target is relayed unless it says "not executed" after this node may have appended it:
    /// then the write is followed further (the target's own attempts appended nothing).
    private func forwardOrRedirect(to target: NodeID?, slot: Slot, args: [[UInt8]], hops: UInt8, deadline: Double, write: Bool, appended: Bool,
                                   retry: @escaping @Sendable (_ appended: Bool) -> Void, reply: @escaping Reply) {
        guard let target, target != node.selfID else { return retry(appended) }
        if redirectWithMoved && hops == 0 && !appended, let addr = node.addresses[target] {
            // As Redis writes it: an IPv6 host bare (`::1:7001`), which clients split at the last colon.
            return reply(.error("MOVED \(slot.rawValue) \(addr.endpoint)"))
        }
        guard hops < Self.maxHops else {
            return appended ? retry(true) : reply(.error("TRYAGAIN leadership is moving; retry"))
        }
        // A forward that gets no reply is sent again (under the write's session), so one lost
        // on a broken or cut connection does not hold the request until its deadline.
        let remaining = Self.millis(until: deadline)
        let wait = min(remaining, max(200, Int64(timeoutMillis) / 4))
        node.transport.forward(args, hops: hops + 1, to: target, budgetMillis: remaining, timeoutMillis: wait) { outcome in
            switch outcome {
            case .notSent:
                retry(appended)
            case .noReply:
                // The target may have appended it.
                retry(appended || write)
            case .reply(let bytes):
                if write && appended && Self.isNotExecuted(bytes) { return retry(true) }
                // The node the client asked follows a leadership move itself (a later node ran
                // out of hops, or found no leader yet) until the deadline, rather than passing
                // -TRYAGAIN on: the retry looks the leader up afresh.
                if hops == 0 && Self.errorCode(bytes) == "TRYAGAIN" { return retry(appended) }
                reply(.raw(ByteBuffer(bytes: bytes)))
            }
        }
    }

    // MARK: - Whole-keyspace commands

    private func dbsize(deadline: Double, reply: @escaping Reply) {
        let shards = node.shardMap.shards
        let state = NIOLockedValueBox<(left: Int, total: Int64, error: RESPValue?)>((shards.count, 0, nil))
        for s in shards {
            var session = RouteSession()
            execute([Array("MYSTORE.SHARDCOUNT".utf8), Array(String(s.id.rawValue).utf8)], session: &session, hops: 0) { v in
                let done = state.withLockedValue { st -> (Bool, Int64, RESPValue?) in
                    st.left -= 1
                    if case .integer(let n) = v.parsedIfRaw { st.total += n } else { st.error = st.error ?? v }
                    return (st.left == 0, st.total, st.error)
                }
                if done.0 { reply(done.2 ?? .integer(done.1)) }
            }
        }
    }

    /// FLUSHALL / FLUSHDB [SYNC | ASYNC]: every shard's leader empties its shard (one Raft entry
    /// each); OK once all have, else the first shard's error. Both options run synchronously.
    private func flush(_ options: [String], reply: @escaping Reply) {
        guard options.count <= 1, options.allSatisfy({ $0 == "SYNC" || $0 == "ASYNC" }) else { return reply(.error("ERR syntax error")) }
        let shards = node.shardMap.shards
        let state = NIOLockedValueBox<(left: Int, error: RESPValue?)>((shards.count, nil))
        for s in shards {
            var session = RouteSession()
            execute([Array("MYSTORE.SHARDFLUSH".utf8), Array(String(s.id.rawValue).utf8)], session: &session, hops: 0) { v in
                let done = state.withLockedValue { st -> (Bool, RESPValue?) in
                    st.left -= 1
                    if v.parsedIfRaw != .ok { st.error = st.error ?? v }
                    return (st.left == 0, st.error)
                }
                if done.0 { reply(done.1 ?? .ok) }
            }
        }
    }

    /// INFO [section ...]: Redis's sections. Keyspace counts the keys of the shards this node
    /// leads, as each Redis Cluster primary reports its own, so tools that add the nodes' counts
    /// (`redis-cli --cluster info`) get the cluster's; DBSIZE gives the whole cluster's at once.
    private func info(_ arguments: [String], deadline: Double, reply: @escaping Reply) {
        let sections = InfoSections.requested(arguments)
        let identity = ServerIdentity(address: node.plan.selfAddress.description, clusterSize: node.addresses.count,
                                      processID: getpid(), maxClients: node.plan.config.maxConnections)
        let led = node.host.status().filter { $0.role == .leader && $0.group != ClusterNode.metaGroup }.map(\.group)
        guard sections.contains("keyspace"), !led.isEmpty else {
            var info = InfoSections(identity: identity, maxClients: identity.maxClients)
            info.keyspace = (0, 0)
            return reply(.verbatim(info.text(sections)))
        }
        let state = NIOLockedValueBox<(left: Int, keys: Int64, expires: Int64)>((led.count, 0, 0))
        for group in led {
            node.host.read(group, on: KVShardMachine.self, local: true, { ($0.store.count, $0.store.expiringCount) }) { result in
                let done = state.withLockedValue { st -> Bool in
                    st.left -= 1
                    if case .success(let counts) = result {
                        st.keys += Int64(counts.0)
                        st.expires += Int64(counts.1)
                    }
                    return st.left == 0
                }
                guard done else { return }
                let st = state.withLockedValue { $0 }
                var info = InfoSections(identity: identity, maxClients: identity.maxClients)
                info.keyspace = (st.keys, st.expires)
                reply(.verbatim(info.text(sections)))
            }
        }
    }

    /// SCAN cursor [MATCH pattern] [COUNT n]: walks the shards in order, each in key order.
    private func scan(_ a: [[UInt8]], deadline: Double, reply: @escaping Reply) {
        guard let first = a.first, let cursor = UInt64(String(decoding: first, as: UTF8.self)) else {
            return reply(.error("ERR invalid cursor"))
        }
        var match: [UInt8]?
        var count = 10
        var i = 1
        while i + 1 < a.count + 1 && i < a.count {
            switch String(decoding: a[i], as: UTF8.self).uppercased() {
            case "MATCH" where i + 1 < a.count: match = a[i + 1]
            case "COUNT" where i + 1 < a.count:
                guard let n = Int(String(decoding: a[i + 1], as: UTF8.self)), n > 0 else { return reply(.error("ERR value is not an integer or out of range")) }
                count = min(n, 10_000)
            default: return reply(.error("ERR syntax error"))
            }
            i += 2
        }
        let position: (shard: Int, after: [UInt8])
        if cursor == 0 {
            position = (0, [])
        } else if let p = cursors.withLockedValue({ $0.open.removeValue(forKey: cursor) }) {
            position = p
        } else {
            return reply(.error("ERR invalid cursor"))
        }
        let shards = node.shardMap.shards
        guard position.shard < shards.count else { return reply(.array([.bulk("0"), .array([])])) }
        var args = [Array("MYSTORE.SHARDSCAN".utf8), Array(String(shards[position.shard].id.rawValue).utf8), position.after, Array(String(count).utf8)]
        if let match { args.append(match) }
        var session = RouteSession()
        execute(args, session: &session, hops: 0) { [self] v in
            guard let (next, keys) = Self.shardScanReply(v) else { return reply(v) }
            let nextPosition = next.map { (position.shard, $0) } ?? (position.shard + 1, [])
            let id: UInt64 = nextPosition.0 >= shards.count ? 0 : cursors.withLockedValue { c in
                defer { c.next += 1 }
                if c.open.count > 100_000 { c.open.removeAll() }
                c.open[c.next] = nextPosition
                return c.next
            }
            reply(.array([.bulk(String(id)), .array(keys.map { .bulkString(ByteBuffer(bytes: $0)) })]))
        }
    }

    static func shardScanReply(_ v: RESPValue) -> (next: [UInt8]?, keys: [[UInt8]])? {
        guard case .array(let parts) = v.parsedIfRaw, parts.count == 2, case .array(let keys) = parts[1] else { return nil }
        var next: [UInt8]?
        if case .bulkString(let b) = parts[0] { next = Array(b.readableBytesView) }
        return (next, keys.compactMap { if case .bulkString(let b) = $0 { Array(b.readableBytesView) } else { nil } })
    }

    /// Internal per-shard commands used by DBSIZE and SCAN: routed by shard id.
    private func shardInternal(_ name: String, _ args: [[UInt8]], hops: UInt8, deadline: Double, reply: @escaping Reply) {
        guard args.count >= 2, let id = Int(String(decoding: args[1], as: UTF8.self)),
              let shard = node.shardMap.shard(id: ShardID(rawValue: id)) else { return reply(.error("ERR no such shard")) }
        let body: @Sendable (KVStateMachine) -> RESPValue
        let group = ClusterNode.group(of: shard.id)
        let slot = shard.slotRanges.first!.first
        if name == "MYSTORE.SHARDFLUSH" {
            return attempt(group: group, shard: shard, slot: slot, parsed: .write(keys: [], command: .flush, reply: CommandParser.plain), args: args,
                           clientID: 0, sequence: 0, readOnly: false, hops: hops, deadline: deadline, reply: reply)
        }
        if name == "MYSTORE.SHARDCOUNT" {
            body = { sm in .integer(Int64(sm.count)) }
        } else {
            guard args.count >= 4, let count = Int(String(decoding: args[3], as: UTF8.self)) else { return reply(.error("ERR syntax error")) }
            let after = args[2], match = args.count > 4 ? args[4] : nil
            body = { sm in
                let r = sm.scan(after: after, count: count, match: match)
                return .array([r.next.map { .bulkString(ByteBuffer(bytes: $0)) } ?? .null, .array(r.keys.map { .bulkString(ByteBuffer(bytes: $0)) })])
            }
        }
        attempt(group: group, shard: shard, slot: slot, parsed: .read(keys: [], body: body), args: args, clientID: 0, sequence: 0,
                readOnly: false, hops: hops, deadline: deadline, reply: reply)
    }

    // MARK: - WAIT

    /// WAIT numreplicas timeout: how many other replicas of the shard of this connection's last
    /// write hold the log up to its leader's commit index (so that write too), waiting up to
    /// `timeout` ms (0: up to the request timeout) for `numreplicas` of them. Answered by the
    /// shard's leader (`MYSTORE.SHARDWAIT`). A connection that wrote nothing gets 0 at once.
    private func wait(_ a: [[UInt8]], session: RouteSession, deadline: Double, reply: @escaping Reply) {
        guard a.count == 2 else { return reply(.error("ERR wrong number of arguments for 'wait' command")) }
        guard let wanted = Int64(String(decoding: a[0], as: UTF8.self)) else { return reply(.error("ERR value is not an integer or out of range")) }
        guard let timeout = Int64(String(decoding: a[1], as: UTF8.self)) else {
            return reply(.error("ERR timeout is not an integer or out of range"))
        }
        guard timeout >= 0 else { return reply(.error("ERR timeout is negative")) }
        guard let slot = session.lastWriteSlot, let shard = node.shardMap.shard(for: slot) else { return reply(.integer(0)) }
        let budget = timeout == 0 ? Self.millis(until: deadline) : min(timeout, Self.millis(until: deadline))
        let args = ["MYSTORE.SHARDWAIT", String(shard.id.rawValue), String(wanted), String(budget)].map { Array($0.utf8) }
        shardWait(args, hops: 0, deadline: monotonicSeconds() + Double(budget) / 1000 + 1, reply: reply)
    }

    /// MYSTORE.SHARDWAIT shard numreplicas millis: run by the shard's leader (forwarded there).
    private func shardWait(_ args: [[UInt8]], hops: UInt8, deadline: Double, reply: @escaping Reply) {
        let text = args.map { String(decoding: $0, as: UTF8.self) }
        guard text.count == 4, let id = Int(text[1]), let shard = node.shardMap.shard(id: ShardID(rawValue: id)),
              let wanted = Int(text[2]), let millis = Int64(text[3]) else { return reply(.error("ERR usage: MYSTORE.SHARDWAIT <shard> <numreplicas> <millis>")) }
        let group = ClusterNode.group(of: shard.id)
        let until = monotonicSeconds() + Double(millis) / 1000
        node.host.replication(of: group) { [self] first in
            guard let first else {
                // Not the leader here: ask the node that is.
                guard hops < Self.maxHops, let leader = node.host.status(of: group)?.leaderNode ?? preferredNode(shard), leader != node.selfID else {
                    return reply(.error("TRYAGAIN shard \(shard.id.rawValue) has no reachable leader; retry"))
                }
                let remaining = Self.millis(until: deadline)
                return node.transport.forward(args, hops: hops + 1, to: leader, budgetMillis: remaining, timeoutMillis: remaining) { outcome in
                    switch outcome {
                    case .reply(let bytes): reply(.raw(ByteBuffer(bytes: bytes)))
                    case .notSent, .noReply: reply(.error("TRYAGAIN shard \(shard.id.rawValue)'s leader did not answer WAIT; retry"))
                    }
                }
            }
            // Poll the followers' acknowledgements of that index until enough hold it or time is up.
            @Sendable func check(_ holding: Int) {
                guard holding < wanted, monotonicSeconds() < until else { return reply(.integer(Int64(holding))) }
                loop.scheduleTask(in: .milliseconds(5)) { [self] in
                    node.host.replication(of: group, through: first.index) { now in check(now?.holding ?? holding) }
                }
            }
            check(first.holding)
        }
    }

    // MARK: - Status

    func statusJSON() -> String {
        var shards: [String] = []
        var metaRole = "none"
        for st in node.host.status() {
            let leader = st.leaderNode.flatMap { node.addresses[$0] }.map { "\"\($0)\"" } ?? "null"
            if st.group == ClusterNode.metaGroup {
                metaRole = st.role.rawValue
                continue
            }
            shards.append("{\"shard\":\(st.group - 1),\"role\":\"\(st.role.rawValue)\",\"term\":\(st.term),\"applied\":\(st.appliedIndex),\"commit\":\(st.commitIndex),\"last\":\(st.lastIndex),\"leader\":\(leader)}")
        }
        let c = node.streams.snapshot
        let snaps = "{\"sending\":\(c.sending),\"receiving\":\(c.receiving),\"bytes_sent\":\(c.bytesSent),\"bytes_received\":\(c.bytesReceived),\"sent\":\(c.sent),\"received\":\(c.received),\"failed\":\(c.failed)}"
        return "{\"node\":\"\(node.plan.selfAddress)\",\"node_id\":\(node.selfID),\"health\":\"ok\",\"meta\":\"\(metaRole)\",\"snapshots\":\(snaps),\"shards\":[\(shards.joined(separator: ","))]}"
    }
}
