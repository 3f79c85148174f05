import Foundation
import Linearizability
import MultiRaft
import MyStoreClient
import ShardRouter
import SystemClock

/// How the workload's clients reach the cluster.
enum ClientMode: String, CaseIterable, Sendable {
    /// Each operation goes to a random node, which forwards it to the shard's leader.
    case anyNode = "any-node"
    /// Redis Cluster clients against nodes run with `client_redirects = moved`: operations are
    /// routed by slot and follow redirects (`SlotRoutingClient`), and a write answered "not
    /// executed" (MOVED, TRYAGAIN, ...) is recorded as failed.
    case cluster
}

/// Concurrent clients over a small key set. Each client runs on its own thread and records
/// every operation with monotonic invoke and completion times. In `any-node` mode it sends each
/// operation to a random node (so every client keeps talking to nodes that are cut off, paused
/// or deposed); in `cluster` mode it routes by slot as a Redis Cluster client does. A write that
/// times out, loses its connection or gets an error reply has an unknown outcome; a read that
/// fails is recorded as failed (it changed nothing), as is a write in `cluster` mode that the
/// cluster answered "not executed".
final class Workload: @unchecked Sendable {
    let cluster: Cluster
    let mode: ClientMode
    let keys: [String]
    let clients: Int
    let timeout: Double
    let seed: UInt64
    private let stopFlag = Locked(false)
    private let histories = Locked<[[HistoryOp]]>([])
    private var threads: [Thread] = []
    private let finished = Locked(0)

    init(cluster: Cluster, keys: Int, clients: Int, timeout: Double, seed: UInt64, mode: ClientMode = .anyNode) {
        self.cluster = cluster
        self.mode = mode
        self.keys = (0..<keys).map { "key\($0)" }
        self.clients = clients
        self.timeout = timeout
        self.seed = seed
    }

    func start() {
        for c in 0..<clients {
            let t = Thread { [self] in
                let ops = runClient(c + 1)
                histories.withLock { $0.append(ops) }
                finished.withLock { $0 += 1 }
            }
            t.stackSize = 1 << 20
            threads.append(t)
            t.start()
        }
    }

    /// Stops the clients and waits for them (each finishes its current operation, bounded by
    /// the operation timeout).
    func stop() -> [HistoryOp] {
        stopFlag.withLock { $0 = true }
        let deadline = Date().addingTimeInterval(timeout * 3 + 5)
        while finished.current < clients && Date() < deadline { sleepSeconds(0.05) }
        return histories.withLock { $0.flatMap { $0 } }
    }

    /// Operations recorded so far (for progress lines).
    let liveCount = Locked(0)
    var isStopped: Bool { stopFlag.current }

    private func runClient(_ client: Int) -> [HistoryOp] {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(client))
        var ops: [HistoryOp] = []
        var connections: [Int: RESPConnection] = [:]
        let slotRouting = SlotRoutingClient(cluster: cluster, timeout: timeout, seed: rng.next())
        var counter = 0
        var lastSeen: [String: String] = [:]
        while !stopFlag.current {
            // In any-node mode every operation goes to a random node, over one connection per
            // node: whatever node is paused, cut off or deposed keeps getting its share of the
            // requests.
            let node = Int(rng.next() % UInt64(cluster.count))
            if mode == .anyNode && connections[node] == nil {
                connections[node] = try? cluster.connection(node, timeout: timeout)
            }
            if mode == .anyNode && connections[node] == nil {
                sleepSeconds(0.02)
                continue
            }
            let key = keys[Int(rng.next() % UInt64(keys.count))]
            counter += 1
            let fresh = String(client * 10_000_000 + counter * 100)
            let (kind, args): (HistoryOp.Kind, [String])
            switch rng.next() % 100 {
            case 0..<35: (kind, args) = (.get, [])
            case 35..<55: (kind, args) = (.set, [fresh])
            case 55..<60: (kind, args) = (.setNX, [fresh])
            case 60..<75: (kind, args) = (.setIfEq, [fresh, lastSeen[key] ?? fresh])
            case 75..<80: (kind, args) = (.del, [])
            default: (kind, args) = (.incr, [])
            }
            var op = HistoryOp(client: client, kind: kind, key: key, args: args, invoke: historyNanos(), complete: nil, outcome: .unknown)
            let (outcome, result, broken) = mode == .cluster ? perform(op, routing: slotRouting) : perform(op, on: connections[node]!)
            let end = historyNanos()
            if broken {
                connections[node] = nil
            }
            op.outcome = outcome
            op.result = result
            op.complete = outcome == .unknown ? nil : end
            if outcome == .ok {
                switch (kind, result) {
                case (.get, .string(let s)): lastSeen[key] = s
                case (.incr, .integer(let i)): lastSeen[key] = String(i)
                case (.set, _): lastSeen[key] = args[0]
                case (.setIfEq, .string), (.setNX, .string): lastSeen[key] = args[0]
                default: break
                }
            }
            ops.append(op)
            liveCount.withLock { $0 += 1 }
            if broken { sleepSeconds(0.02) }
        }
        return ops
    }

    /// The RESP command of an operation.
    static func command(_ op: HistoryOp) -> [[UInt8]] {
        var command = [op.kind == .incr ? "INCR" : op.kind == .del ? "DEL" : op.kind == .get ? "GET" : "SET", op.key]
        switch op.kind {
        case .set: command += [op.args[0]]
        case .setNX: command += [op.args[0], "NX"]
        case .setIfEq: command += [op.args[0], "IFEQ", op.args[1]]
        default: break
        }
        return command.map { Array($0.utf8) }
    }

    /// Sends one operation; returns its outcome, result and whether the connection is unusable.
    func perform(_ op: HistoryOp, on c: RESPConnection) -> (HistoryOp.Outcome, HistoryOp.Value, Bool) {
        let reply: RESPReply
        do {
            reply = try c.send(Self.command(op))
        } catch {
            return (op.kind == .get ? .fail : .unknown, .null, true)
        }
        let (outcome, result) = Self.classify(reply, of: op)
        return (outcome, result, false)
    }

    /// Sends one operation as a Redis Cluster client does: a write the cluster answered "not
    /// executed" is recorded as failed, so if it was applied after all the checker sees it.
    func perform(_ op: HistoryOp, routing: SlotRoutingClient) -> (HistoryOp.Outcome, HistoryOp.Value, Bool) {
        switch routing.send(Self.command(op), slot: Slot(forKey: Array(op.key.utf8))) {
        case .notExecuted: return (.fail, .null, false)
        case .lost: return (op.kind == .get ? .fail : .unknown, .null, true)
        case .reply(let reply):
            let (outcome, result) = Self.classify(reply, of: op)
            return (outcome, result, false)
        }
    }

    /// What a reply says about an operation.
    static func classify(_ reply: RESPReply, of op: HistoryOp) -> (HistoryOp.Outcome, HistoryOp.Value) {
        let isRead = op.kind == .get
        switch reply {
        case .error(let message):
            // INCR of a non-integer changes nothing; other errors of a write may come after
            // the entry was proposed (leader lost, timeout: -UNCERTAIN), so the write may still
            // happen.
            if isRead || (op.kind == .incr && message.contains("not an integer")) { return (.fail, .null) }
            return (.unknown, .null)
        case .null, .nullArray:
            return op.kind == .get || op.kind == .setNX || op.kind == .setIfEq ? (.ok, .null) : (isRead ? .fail : .unknown, .null)
        case .integer(let i):
            return op.kind == .del || op.kind == .incr ? (.ok, .integer(i)) : (isRead ? .fail : .unknown, .null)
        case .simpleString, .bulkString:
            let text = reply.text ?? ""
            if op.kind == .get { return (.ok, .string(text)) }
            if op.kind != .del && op.kind != .incr && text == "OK" { return (.ok, .string("OK")) }
            return (.unknown, .null)
        case .array:
            return (isRead ? .fail : .unknown, .null)
        }
    }
}
