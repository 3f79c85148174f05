import MultiRaft

/// Client sessions for exactly-once writes: per client, the results of its most recent
/// sequence numbers (a window), so a retried request gets the original answer instead of being
/// applied twice. Pipelined writes of one client may reach a shard out of order (they travel
/// different routes); any sequence inside the window, or above it, is judged correctly.
///
/// Bounded in number (least recently used evicted first), in time (sessions idle longer than
/// the TTL on the replicated clock are dropped) and per session (`window` results; a sequence
/// at or below the highest one evicted from the window can no longer be answered).
struct ClientSessions {
    struct Session: Equatable, Sendable {
        /// Results of the applied sequences still in the window.
        var results: [UInt64: KVResult]
        /// The highest sequence evicted from the window (0 = none).
        var floor: UInt64
        var lastSeenMillis: UInt64

        /// Records `result` for `sequence`; beyond `window` results the lowest sequence leaves
        /// and raises the floor.
        mutating func add(_ sequence: UInt64, _ result: KVResult, clock: UInt64, window: Int) {
            results[sequence] = result
            lastSeenMillis = clock
            guard results.count > window else { return }
            let oldest = lowestSequence()
            results[oldest] = nil
            floor = max(floor, oldest)
        }

        /// The lowest sequence in the window. Every kept sequence is above the floor, and a
        /// client numbers its requests one by one, so it is nearly always just above the floor:
        /// a few probes, and a full search only when requests were skipped.
        private func lowestSequence() -> UInt64 {
            var candidate = floor &+ 1
            for _ in 0..<8 {
                if results[candidate] != nil { return candidate }
                candidate &+= 1
            }
            return results.keys.min()!
        }
    }

    /// What to do with an incoming request.
    enum Verdict: Equatable {
        /// Not seen before: apply it.
        case new
        /// A retry of an applied request: answer with its result.
        case duplicate(KVResult)
        /// Too old to tell: refuse it without applying.
        case stale(floor: UInt64)
    }

    /// Results kept per session.
    let window: Int
    let maxSessions: Int
    let ttlMillis: UInt64
    private(set) var sessions: [UInt64: Session] = [:]
    /// Least recently used first; since the clock never goes back, also oldest `lastSeenMillis` first.
    private(set) var order = EvictionQueue<UInt64>()

    init(maxSessions: Int, ttlMillis: UInt64, window: Int = 256) {
        self.maxSessions = maxSessions
        self.ttlMillis = ttlMillis
        self.window = max(1, window)
    }

    var count: Int { sessions.count }

    private func isIdle(_ s: Session, at clock: UInt64) -> Bool {
        clock > s.lastSeenMillis && clock - s.lastSeenMillis > ttlMillis
    }

    /// Judges a request of `clientID` (non-zero). Sessions past their TTL count as absent
    /// whether or not they have been purged yet, so the verdict does not depend on purge timing.
    func verdict(clientID: UInt64, sequence: UInt64, clock: UInt64) -> Verdict {
        guard let s = sessions[clientID], !isIdle(s, at: clock) else { return .new }
        if let r = s.results[sequence] { return .duplicate(r) }
        if sequence <= s.floor { return .stale(floor: s.floor) }
        return .new
    }

    /// Remembers an applied request's result and evicts the least recently used sessions
    /// beyond the bound.
    mutating func record(clientID: UInt64, sequence: UInt64, result: KVResult, clock: UInt64) {
        if sessions[clientID].map({ isIdle($0, at: clock) }) ?? true {
            sessions[clientID] = Session(results: [:], floor: 0, lastSeenMillis: clock)
        }
        // Changed in place: a copy taken out of the dictionary would copy the whole result
        // window on every write.
        sessions[clientID]!.add(sequence, result, clock: clock, window: window)
        order.append(clientID)
        while sessions.count > maxSessions, let oldest = order.removeFirst() {
            sessions.removeValue(forKey: oldest)
        }
    }

    /// Restores one session as written in a snapshot.
    mutating func restore(clientID: UInt64, session: Session) {
        sessions[clientID] = session
        order.append(clientID)
    }

    /// Drops up to `limit` sessions idle past the TTL.
    mutating func purgeIdle(clock: UInt64, limit: Int) {
        var left = limit
        while left > 0, let oldest = order.first, let s = sessions[oldest], isIdle(s, at: clock) {
            order.remove(oldest)
            sessions.removeValue(forKey: oldest)
            left -= 1
        }
    }
}
