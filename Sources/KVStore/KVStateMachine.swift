import MultiRaft

/// The key-value state machine of one shard: applies committed log entries (encoded
/// `KVRequest`s) to a map of byte-string keys and values, with Redis string semantics,
/// expiry on a replicated clock, per-key history and client sessions for exactly-once writes.
///
/// Pure and deterministic: replicas that apply the same entries in the same order hold the
/// same state and return the same results. Time comes only from the entries' timestamps; reads
/// never change anything (an expired key reads as absent and is removed by a later apply).
/// Not thread-safe: the owner serialises access.
public final class KVStateMachine {
    public let settings: KVSettings

    /// Every key with a value or a kept history.
    var records: [StoreKey: KeyRecord] = [:]
    /// Keys with a value (including expired ones not purged yet), in key order.
    var keyOrder = SortedIndex<StoreKey>()
    /// Keys with a value and an expiry, soonest first.
    var deadlines = SortedIndex<ExpiryDeadline>()
    /// Keys whose value is gone but whose history is kept, longest retired first.
    var retired = EvictionQueue<StoreKey>()
    var sessions: ClientSessions

    /// The index of the last entry applied (0 before any).
    public internal(set) var appliedIndex: LogIndex = 0
    /// Replicated clock: the largest timestamp applied so far (Unix ms). Keys whose expiry is
    /// <= this are absent.
    public internal(set) var clockMillis: UInt64 = 0

    /// A copy sharing this state's storage until either side changes (copy-on-write): cheap,
    /// and safe to snapshot on another thread while this one keeps applying.
    public func frozenCopy() -> KVStateMachine {
        let c = KVStateMachine(settings: settings)
        c.records = records
        c.keyOrder = keyOrder
        c.deadlines = deadlines
        c.retired = retired
        c.sessions = sessions
        c.appliedIndex = appliedIndex
        c.clockMillis = clockMillis
        return c
    }

    public init(settings: KVSettings = KVSettings()) {
        self.settings = settings
        sessions = ClientSessions(maxSessions: settings.maxSessions, ttlMillis: settings.sessionTTLMillis, window: settings.sessionWindow)
    }

    // MARK: Applying entries

    /// Applies the committed entry at `index` (its data is an encoded `KVRequest`; empty data
    /// is the leader's no-op) and returns the reply for the client.
    ///
    /// - Undecodable data yields `.error(...)` and changes nothing but `appliedIndex` (every
    ///   replica does the same, so replicas stay equal).
    /// - A request whose (clientID, sequence) was already applied returns the cached result and
    ///   changes nothing but `appliedIndex`; a lower sequence than the session's last returns
    ///   an error without applying.
    /// - An index not above `appliedIndex` (an entry replayed after a restore) is refused and
    ///   changes nothing.
    public func apply(index: LogIndex, data: [UInt8]) -> KVResult {
        guard index > appliedIndex else {
            return .error("ERR log index \(index) was already applied (applied index \(appliedIndex))")
        }
        appliedIndex = index
        guard !data.isEmpty else {
            purgeDue()
            return .ok
        }
        let request: KVRequest
        do {
            request = try KVRequest.decode(data)
        } catch {
            return .error("ERR undecodable request at index \(index): \(error)")
        }
        if request.clientID != 0 {
            switch sessions.verdict(clientID: request.clientID, sequence: request.sequence, clock: clockMillis) {
            case .new: break
            case .duplicate(let result): return result
            case .stale(let floor):
                // Its result has left the session's window: whether it was applied cannot
                // be told any more.
                return .error("UNCERTAIN stale request: sequence \(request.sequence) of client \(request.clientID) is too old to tell whether it was applied (at or below \(floor))")
            }
        }
        clockMillis = max(clockMillis, request.timestampMillis)
        purgeDue()
        let result = execute(request.command, index: index)
        if request.clientID != 0 {
            sessions.record(clientID: request.clientID, sequence: request.sequence, result: result, clock: clockMillis)
        }
        return result
    }

    /// Removes a bounded batch of expired keys (soonest deadline first) and idle sessions.
    private func purgeDue() {
        var left = settings.purgeBatch
        while left > 0, let due = deadlines.first, due.millis <= clockMillis {
            expire(due.key)
            left -= 1
        }
        sessions.purgeIdle(clock: clockMillis, limit: settings.purgeBatch)
    }

    // MARK: Mutations used by the commands

    /// The key's value if it is live; an expired key is retired on the way (no history record).
    func liveValue(_ key: StoreKey) -> [UInt8]? {
        guard let record = records[key], let value = record.value else { return nil }
        if record.isLive(at: clockMillis) { return value }
        expire(key)
        return nil
    }

    /// Writes `value` with `expiresAt` under `key` (which the caller has checked with
    /// `liveValue`), recording the version written at `index`.
    func write(_ key: StoreKey, _ value: [UInt8], expiresAt: UInt64?, index: LogIndex) {
        let depth = settings.historyDepth
        // One hash lookup; the record is then changed in place, so its history array is not
        // copied on every write.
        guard let at = records.index(forKey: key) else {
            retired.remove(key)
            keyOrder.insert(key)
            if let expiresAt { deadlines.insert(ExpiryDeadline(millis: expiresAt, key: key)) }
            var record = KeyRecord()
            record.assign(value, expiresAt: expiresAt, index: index, depth: depth)
            records[key] = record
            return
        }
        // Fields read one by one: a copy of the record kept alive here would make the
        // in-place change below copy its history.
        let wasLive = records.values[at].value != nil, oldExpiry = records.values[at].expiresAt
        if !wasLive {
            retired.remove(key)
            keyOrder.insert(key)
        } else if let oldExpiry, oldExpiry != expiresAt {
            deadlines.remove(ExpiryDeadline(millis: oldExpiry, key: key))
        }
        if let expiresAt, expiresAt != oldExpiry || !wasLive {
            deadlines.insert(ExpiryDeadline(millis: expiresAt, key: key))
        }
        records.values[at].assign(value, expiresAt: expiresAt, index: index, depth: depth)
    }

    /// Changes the live `key`'s expiry (nil: none) without a new version: the value and its
    /// history stay as they are, as a TTL change is not a write of the value.
    func setExpiry(_ key: StoreKey, _ expiresAt: UInt64?) {
        guard let at = records.index(forKey: key), records.values[at].value != nil else { return }
        let old = records.values[at].expiresAt
        guard old != expiresAt else { return }
        if let old { deadlines.remove(ExpiryDeadline(millis: old, key: key)) }
        if let expiresAt { deadlines.insert(ExpiryDeadline(millis: expiresAt, key: key)) }
        records.values[at].expiresAt = expiresAt
    }

    /// The live key's expiry as Unix milliseconds: nil when the key is missing, -1 when it
    /// has none (EXPIRETIME / PEXPIRETIME).
    public func expiryMillis(_ key: [UInt8]) -> Int64? {
        guard let record = records[StoreKey(key)], record.isLive(at: clockMillis) else { return nil }
        return record.expiresAt.map { Int64(clamping: $0) } ?? -1
    }

    /// Deletes the live `key`, recording the deletion at `index`.
    func delete(_ key: StoreKey, index: LogIndex) {
        retire(key, version: KeyVersion(index: index, value: nil))
    }

    /// Removes the expired `key`'s value; expiry by time leaves no history record.
    private func expire(_ key: StoreKey) {
        retire(key, version: nil)
    }

    private func retire(_ key: StoreKey, version: KeyVersion?) {
        guard var record = records[key], record.value != nil else { return }
        keyOrder.remove(key)
        if let at = record.expiresAt { deadlines.remove(ExpiryDeadline(millis: at, key: key)) }
        record.value = nil
        record.expiresAt = nil
        if let version { record.recordVersion(version, depth: settings.historyDepth) }
        guard !record.history.isEmpty, settings.maxRetiredKeys > 0 else {
            records.removeValue(forKey: key)
            return
        }
        records[key] = record
        retired.append(key)
        while retired.count > settings.maxRetiredKeys, let oldest = retired.removeFirst() {
            records.removeValue(forKey: oldest)
        }
    }

    // MARK: Reads (never change state)

    /// The key's value, or nil if it is absent or expired on the replicated clock.
    public func get(_ key: [UInt8]) -> [UInt8]? {
        guard let record = records[StoreKey(key)], record.isLive(at: clockMillis) else { return nil }
        return record.value
    }

    /// Whether the key exists (and has not expired).
    public func exists(_ key: [UInt8]) -> Bool { get(key) != nil }

    /// Remaining time to live in milliseconds, as Redis PTTL: -2 if the key does not exist,
    /// -1 if it has no expiry.
    public func ttlMillis(_ key: [UInt8]) -> Int64 {
        guard let record = records[StoreKey(key)], record.isLive(at: clockMillis) else { return -2 }
        guard let at = record.expiresAt else { return -1 }
        return Int64(clamping: at - clockMillis)
    }

    /// The soonest expiry of a key not purged yet (Unix ms), nil when no key has one. When it is
    /// at or before `clockMillis` the key already reads as absent and awaits its purge.
    public var nextDeadline: UInt64? { deadlines.first?.millis }

    /// Live keys with an expiry (INFO's `expires`).
    public var expiringCount: Int {
        let clock = clockMillis
        return deadlines.count - deadlines.prefixCount { $0.millis <= clock }
    }

    /// The number of live keys (DBSIZE); expired keys not purged yet are not counted.
    public var count: Int {
        let clock = clockMillis
        return keyOrder.count - deadlines.prefixCount { $0.millis <= clock }
    }

    /// Past values of a key, newest first: the index that wrote each and the value (nil for a
    /// delete); at most `min(limit, historyDepth)`. The newest is the current value while the
    /// key exists. Kept after a delete or expiry until `maxRetiredKeys` newer retirements
    /// push it out.
    public func history(_ key: [UInt8], limit: Int) -> [(index: LogIndex, value: [UInt8]?)] {
        guard limit > 0, let record = records[StoreKey(key)] else { return [] }
        return record.history.reversed().prefix(limit).map { (index: $0.index, value: $0.value) }
    }

    /// SCAN-style iteration in key order: examines up to `count` keys after `cursor`
    /// (exclusive; empty = start) and returns the live ones matching the Redis glob `match`,
    /// with the cursor to continue from (nil when done). Every key that exists throughout a
    /// full iteration is returned exactly once. The empty key is never a resumption point (an
    /// empty cursor means "start"), so it is examined in addition to `count` on the first page.
    public func scan(after cursor: [UInt8], count: Int, match: [UInt8]?) -> (keys: [[UInt8]], next: [UInt8]?) {
        let limit = max(count, 1)
        let pattern = match.map(GlobPattern.init)
        let clock = clockMillis
        var keys: [[UInt8]] = []
        var examined = 0
        var last: StoreKey?
        var more = false
        keyOrder.forEach(after: cursor.isEmpty ? nil : StoreKey(cursor)) { key in
            // The empty key is never a resumption point: an empty cursor means "start".
            if examined >= limit, last?.bytes.isEmpty == false {
                more = true
                return false
            }
            examined += 1
            last = key
            if records[key]?.isLive(at: clock) == true, pattern?.matches(key.bytes) ?? true {
                keys.append(key.bytes)
            }
            return true
        }
        return (keys, more ? last?.bytes : nil)
    }
}
