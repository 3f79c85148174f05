#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemClock

/// The verdict for one key's history.
public enum KeyVerdict: Sendable, Equatable {
    case linearizable
    /// No order of the operations matches the sequential specification.
    case violation(Violation)
    /// The search exceeded its step or time bound.
    case unknown(reason: String)

    public var name: String {
        switch self {
        case .linearizable: return "linearizable"
        case .violation: return "violation"
        case .unknown: return "unknown/timeout"
        }
    }
}

/// Where the search got stuck: the longest order it found for a prefix of the history, and the
/// operations none of which can come next.
public struct Violation: Sendable, Equatable, CustomStringConvertible {
    public var key: String
    /// The longest linearization found (in order), with the value after it.
    public var longestPrefix: [HistoryOp]
    public var stateAfterPrefix: String?
    /// Operations that completed (or could have taken effect) by then and cannot be ordered next:
    /// the first of them had to be placed before the next completed operation began.
    public var unorderable: [HistoryOp]

    public var description: String {
        var lines = ["key \"\(key)\": not linearizable"]
        let shown = longestPrefix.suffix(10)
        lines.append("  longest linearizable prefix: \(longestPrefix.count) operation(s), value after it: \(stateAfterPrefix.map { "\"\($0)\"" } ?? "nil")")
        if longestPrefix.count > shown.count { lines.append("    ... (\(longestPrefix.count - shown.count) earlier)") }
        for op in shown { lines.append("    \(op)") }
        lines.append("  operations that cannot be ordered next:")
        for op in unorderable { lines.append("    \(op)") }
        return lines.joined(separator: "\n")
    }
}

public struct CheckLimits: Sendable {
    /// Search steps per key before giving up with `unknown`.
    public var maxSteps: Int
    /// Wall-clock seconds per key before giving up with `unknown`.
    public var maxSeconds: Double

    public init(maxSteps: Int = 50_000_000, maxSeconds: Double = 30) {
        self.maxSteps = maxSteps
        self.maxSeconds = maxSeconds
    }
}

/// Linearizability of a recorded history: the Wing–Gong search with Lowe's memoization of
/// (linearized set, state) pairs, on each key's operations separately (single-key operations
/// compose: a history is linearizable iff every key's is).
public enum LinearizabilityChecker {
    /// Checks every key; the result maps each key to its verdict.
    public static func check(_ history: [HistoryOp], limits: CheckLimits = CheckLimits()) -> [String: KeyVerdict] {
        var byKey: [String: [HistoryOp]] = [:]
        for op in history { byKey[op.key, default: []].append(op) }
        var verdicts: [String: KeyVerdict] = [:]
        for (key, ops) in byKey { verdicts[key] = checkKey(key, ops, limits: limits) }
        return verdicts
    }

    /// Checks the operations of one key (all must have that key), starting from an absent value.
    public static func checkKey(_ key: String, _ history: [HistoryOp], initial: String? = nil,
                                limits: CheckLimits = CheckLimits()) -> KeyVerdict {
        var search = Search(key: key, ops: history, initial: initial, limits: limits)
        return search.run()
    }
}

/// The search over one key. Events (calls and returns) form a doubly linked list; linearizing an
/// operation lifts its call and return out of the list, backtracking puts them back.
struct Search {
    struct Event {
        var op: Int
        var isCall: Bool
        var time: Int64
        var prev: Int
        var next: Int
        /// For a call, its return event (-1 when the operation has none: unknown outcome).
        var match: Int
    }

    struct CacheKey: Hashable {
        var bits: [UInt64]
        var state: String?
    }

    let key: String
    let ops: [HistoryOp]
    let initial: String?
    let limits: CheckLimits
    /// events[0] is the head sentinel.
    var events: [Event] = []
    var mustLinearize = 0
    /// Per operation, a number shared by unknown operations with the same effect.
    var effectOf: [Int] = []
    var offered: [UInt32] = []
    var generation: UInt32 = 0

    init(key: String, ops history: [HistoryOp], initial: String?, limits: CheckLimits) {
        self.key = key
        self.initial = initial
        self.limits = limits
        // A failed operation never took effect; an unknown read observed nothing.
        ops = history.filter { op in
            op.outcome != .fail && !(op.outcome == .unknown && op.kind == .get)
        }
        var effects: [UnknownEffect: Int] = [:]
        effectOf = ops.map { op in
            let key = UnknownEffect(kind: op.kind, args: op.args)
            if let id = effects[key] { return id }
            effects[key] = effects.count
            return effects.count - 1
        }
        offered = [UInt32](repeating: 0, count: effects.count)
        var raw: [(op: Int, isCall: Bool, time: Int64)] = []
        for (i, op) in ops.enumerated() {
            raw.append((i, true, op.invoke))
            if op.outcome == .ok, let end = op.complete {
                raw.append((i, false, max(end, op.invoke)))
                mustLinearize += 1
            }
        }
        // At equal times calls come first, so touching operations count as concurrent.
        raw.sort { a, b in a.time != b.time ? a.time < b.time : (a.isCall && !b.isCall) }
        events = [Event(op: -1, isCall: false, time: .min, prev: -1, next: raw.isEmpty ? -1 : 1, match: -1)]
        var callIndex = [Int](repeating: -1, count: ops.count)
        for (n, e) in raw.enumerated() {
            let index = n + 1
            events.append(Event(op: e.op, isCall: e.isCall, time: e.time, prev: n, next: n + 2 < raw.count + 1 ? n + 2 : -1, match: -1))
            if e.isCall { callIndex[e.op] = index } else { events[callIndex[e.op]].match = index }
        }
    }

    private mutating func lift(_ call: Int) {
        for i in [call, events[call].match] where i >= 0 {
            let e = events[i]
            events[e.prev].next = e.next
            if e.next >= 0 { events[e.next].prev = e.prev }
        }
    }

    private mutating func unlift(_ call: Int) {
        for i in [events[call].match, call] where i >= 0 {
            let e = events[i]
            events[e.prev].next = i
            if e.next >= 0 { events[e.next].prev = i }
        }
    }

    /// The operations that may be linearized next: the calls before the first return event
    /// still in the list, in invocation order. Of unknown operations with the same effect
    /// (e.g. INCRs) only the earliest is offered: any order using a later one can use the
    /// earliest instead. Also returns the blocking return event (-1: none).
    private mutating func candidates() -> (calls: [Int], blocking: Int) {
        var calls: [Int] = []
        generation &+= 1
        var e = events[0].next
        while e >= 0, events[e].isCall {
            if events[e].match >= 0 {
                calls.append(e)
            } else {
                let effect = effectOf[events[e].op]
                if offered[effect] != generation {
                    offered[effect] = generation
                    calls.append(e)
                }
            }
            e = events[e].next
        }
        return (calls, e)
    }

    struct UnknownEffect: Hashable {
        var kind: HistoryOp.Kind
        var args: [String]
    }

    /// Whether `op` replaces the value whatever it was, with a result that does not depend on it.
    /// An unknown operation directly followed by one of these had no visible effect, so such an
    /// order is never needed: leaving the unknown operation out (it stays available) does as well.
    private func isBlind(_ op: HistoryOp) -> Bool {
        op.kind == .set || (op.kind == .del && op.outcome != .ok)
    }

    mutating func run() -> KeyVerdict {
        struct Frame {
            var calls: [Int]
            var next = 0
            /// The call linearized to reach this frame and the value before it (-1 for the root).
            var via: Int
            var stateBefore: String?
        }
        var bits = [UInt64](repeating: 0, count: (ops.count + 63) / 64)
        var cache = Set<CacheKey>()
        var state = initial
        var linearizedKnown = 0
        let root = candidates()
        var frames = [Frame(calls: root.calls, via: -1, stateBefore: initial)]
        var best: (order: [Int], state: String?, blocking: Int) = ([], initial, root.blocking)
        var steps = 0
        let start = monotonicSeconds()

        while linearizedKnown < mustLinearize {
            steps += 1
            if steps % 4096 == 0 {
                if steps > limits.maxSteps { return .unknown(reason: "more than \(limits.maxSteps) search steps") }
                if monotonicSeconds() - start > limits.maxSeconds { return .unknown(reason: "more than \(limits.maxSeconds) s") }
            }
            let depth = frames.count - 1
            if frames[depth].next < frames[depth].calls.count {
                let call = frames[depth].calls[frames[depth].next]
                frames[depth].next += 1
                let opIndex = events[call].op
                let op = ops[opIndex]
                if depth > 0, ops[events[frames[depth].via].op].outcome != .ok, isBlind(op) { continue }
                guard let next = KeyModel.step(state, op) else { continue }
                var newBits = bits
                newBits[opIndex / 64] |= 1 << UInt64(opIndex % 64)
                guard cache.insert(CacheKey(bits: newBits, state: next)).inserted else { continue }
                let previous = state
                state = next
                bits = newBits
                if op.outcome == .ok { linearizedKnown += 1 }
                lift(call)
                let c = candidates()
                frames.append(Frame(calls: c.calls, via: call, stateBefore: previous))
                continue
            }
            // Every candidate failed here: remember the deepest point reached, then backtrack.
            if depth > best.order.count || best.blocking < 0 {
                best = (frames.dropFirst().map { events[$0.via].op }, state, candidates().blocking)
            }
            guard depth > 0 else { return .violation(violation(best)) }
            let frame = frames.removeLast()
            let opIndex = events[frame.via].op
            bits[opIndex / 64] &= ~(1 << UInt64(opIndex % 64))
            if ops[opIndex].outcome == .ok { linearizedKnown -= 1 }
            state = frame.stateBefore
            unlift(frame.via)
        }
        return .linearizable
    }

    /// The operations invoked before the blocking return event that are not in the prefix.
    private func violation(_ best: (order: [Int], state: String?, blocking: Int)) -> Violation {
        let done = Set(best.order)
        let limit = best.blocking >= 0 ? events[best.blocking].time : Int64.max
        var candidates = ops.indices.filter { !done.contains($0) && ops[$0].invoke <= limit }
        candidates.sort { ops[$0].invoke < ops[$1].invoke }
        if best.blocking >= 0 {
            let blockingOp = events[best.blocking].op
            candidates.removeAll { $0 == blockingOp }
            candidates.insert(blockingOp, at: 0)
        }
        return Violation(key: key, longestPrefix: best.order.map { ops[$0] }, stateAfterPrefix: best.state,
                         unorderable: candidates.map { ops[$0] })
    }
}

