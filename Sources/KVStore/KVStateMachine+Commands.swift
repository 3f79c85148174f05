import MultiRaft

/// The commands, with the replies and errors of their Redis counterparts.
extension KVStateMachine {
    static let notAnInteger = "ERR value is not an integer or out of range"
    static let wouldOverflow = "ERR increment or decrement would overflow"
    static let invalidExpire = "ERR invalid expire time in 'set' command"
    static let invalidGetExExpire = "ERR invalid expire time in 'getex' command"
    static let invalidExpireCommand = "ERR invalid expire time in 'expire' command"
    static let tooLarge = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    static let notAFloat = "ERR value is not a valid float"
    static let notFinite = "ERR increment would produce NaN or Infinity"
    static let offsetOutOfRange = "ERR offset is out of range"
    static let noSuchKey = "ERR no such key"
    static let sameObject = "ERR source and destination objects are the same"

    func execute(_ command: KVCommand, index: LogIndex) -> KVResult {
        switch command {
        case let .set(key, value, condition, expiry, returnOld):
            return set(StoreKey(key), value, condition: condition, expiry: expiry, returnOld: returnOld, index: index)
        case .delete(let keys):
            var removed: Int64 = 0
            for key in keys.map(StoreKey.init) where liveValue(key) != nil {
                delete(key, index: index)
                removed += 1
            }
            return .integer(removed)
        case let .incrementBy(key, delta):
            return increment(StoreKey(key), by: delta, index: index)
        case let .append(key, value):
            let k = StoreKey(key)
            let old = liveValue(k)
            let length = (old?.count ?? 0) + value.count
            guard length <= settings.maxValueBytes else { return .error(Self.tooLarge) }
            write(k, (old ?? []) + value, expiresAt: keptExpiry(k), index: index)
            return .integer(Int64(length))
        case .getDelete(let key):
            let k = StoreKey(key)
            guard let old = liveValue(k) else { return .null }
            delete(k, index: index)
            return .bulk(old)
        case let .getSet(key, value):
            let k = StoreKey(key)
            let old = liveValue(k)
            write(k, value, expiresAt: nil, index: index)
            return old.map(KVResult.bulk) ?? .null
        case .multiSet(let pairs):
            for (key, value) in pairs {
                let k = StoreKey(key)
                _ = liveValue(k)
                write(k, value, expiresAt: nil, index: index)
            }
            return .ok
        case let .expire(key, millis, absolute, condition):
            return expire(StoreKey(key), millis: millis, absolute: absolute, condition: condition, index: index)
        case .persist(let key):
            let k = StoreKey(key)
            guard liveValue(k) != nil, keptExpiry(k) != nil else { return .integer(0) }
            setExpiry(k, nil)
            return .integer(1)
        case let .getExpire(key, expiry):
            return getExpire(StoreKey(key), expiry, index: index)
        case .multiSetIfAbsent(let pairs):
            let keys = pairs.map { StoreKey($0.0) }
            guard keys.allSatisfy({ liveValue($0) == nil }) else { return .integer(0) }
            for (k, (_, value)) in zip(keys, pairs) { write(k, value, expiresAt: nil, index: index) }
            return .integer(1)
        case .flush:
            records = [:]
            keyOrder = SortedIndex()
            deadlines = SortedIndex()
            retired = EvictionQueue()
            return .ok
        case let .setRange(key, offset, value):
            return setRange(StoreKey(key), offset: offset, value, index: index)
        case let .incrementByFloat(key, delta):
            return incrementByFloat(StoreKey(key), by: delta, index: index)
        case let .rename(from, to, onlyIfAbsent):
            return rename(StoreKey(from), StoreKey(to), onlyIfAbsent: onlyIfAbsent, index: index)
        case let .copy(from, to, replace):
            let source = StoreKey(from), target = StoreKey(to)
            guard source != target else { return .error(Self.sameObject) }
            guard let value = liveValue(source) else { return .integer(0) }
            if liveValue(target) != nil && !replace { return .integer(0) }
            write(target, value, expiresAt: keptExpiry(source), index: index)
            return .integer(1)
        case let .setBit(key, offset, bit):
            let k = StoreKey(key)
            let byte = offset >> 3
            guard byte < UInt64(settings.maxValueBytes) else { return .error(Self.tooLarge) }
            var value = liveValue(k) ?? []
            if UInt64(value.count) <= byte { value.append(contentsOf: repeatElement(0, count: Int(byte) + 1 - value.count)) }
            let mask = UInt8(0x80) >> UInt8(offset & 7)
            let old = value[Int(byte)] & mask != 0
            if bit { value[Int(byte)] |= mask } else { value[Int(byte)] &= ~mask }
            write(k, value, expiresAt: keptExpiry(k), index: index)
            return .integer(old ? 1 : 0)
        case .read(let read):
            return evaluate(read)
        case let .transaction(watches, steps):
            guard watchesHold(watches) else { return .null }
            return .array(steps.map { execute($0, index: index) })
        case .noop:
            return .ok
        }
    }

    /// GETEX: the value as it was, then the expiry change; an expiry already past deletes the
    /// key (recorded as DEL records it).
    private func getExpire(_ key: StoreKey, _ expiry: Expiry?, index: LogIndex) -> KVResult {
        guard let value = liveValue(key) else { return .null }
        var at: UInt64?
        switch expiry {
        case nil, .keep?:
            return .bulk(value)
        case .none?:
            setExpiry(key, nil)
            return .bulk(value)
        case .afterMillis(let ms)?:
            let (sum, overflow) = clockMillis.addingReportingOverflow(ms)
            guard ms > 0, !overflow, sum <= UInt64(Int64.max) else { return .error(Self.invalidGetExExpire) }
            at = sum
        case .atMillis(let ms)?:
            guard ms > 0, ms <= UInt64(Int64.max) else { return .error(Self.invalidGetExExpire) }
            at = ms
        }
        if let at, at <= clockMillis { delete(key, index: index) } else { setExpiry(key, at) }
        return .bulk(value)
    }

    /// EXPIRE and its kin, as Redis 7 runs them: a missing key or a failed condition replies 0;
    /// a time already past deletes the key (recorded in its history, as a DEL is); otherwise
    /// the expiry changes and the value and its history stay as they are.
    private func expire(_ key: StoreKey, millis: Int64, absolute: Bool, condition: ExpireCondition, index: LogIndex) -> KVResult {
        let base = absolute ? 0 : Int64(clamping: clockMillis)
        let (at, overflow) = base.addingReportingOverflow(millis)
        guard !overflow else { return .error(Self.invalidExpireCommand) }
        guard liveValue(key) != nil else { return .integer(0) }
        let current = keptExpiry(key)
        switch condition {
        case .always: break
        case .ifNone: if current != nil { return .integer(0) }
        case .ifAny: if current == nil { return .integer(0) }
        case .ifLater: if current.map({ at <= Int64(clamping: $0) }) ?? true { return .integer(0) }
        case .ifSooner: if let current, at >= Int64(clamping: current) { return .integer(0) }
        }
        if at <= Int64(clamping: clockMillis) {
            delete(key, index: index)
        } else {
            setExpiry(key, UInt64(at))
        }
        return .integer(1)
    }

    /// The live key's current expiry (for commands that keep the TTL).
    private func keptExpiry(_ key: StoreKey) -> UInt64? {
        guard let record = records[key], record.value != nil else { return nil }
        return record.expiresAt
    }

    /// SET: replies OK, or null when the condition fails; with GET (`returnOld`) the old value
    /// or null either way.
    private func set(_ key: StoreKey, _ value: [UInt8], condition: SetCondition, expiry: Expiry,
                     returnOld: Bool, index: LogIndex) -> KVResult {
        let old = liveValue(key)
        let expiresAt: UInt64?
        switch expiry {
        case .none:
            expiresAt = nil
        case .keep:
            expiresAt = keptExpiry(key)
        case .afterMillis(let ms):
            // Relative to the replicated clock, which is this entry's timestamp unless a new
            // leader's clock lags behind an earlier one's.
            let (at, overflow) = clockMillis.addingReportingOverflow(ms)
            guard ms > 0, !overflow, at <= UInt64(Int64.max) else { return .error(Self.invalidExpire) }
            expiresAt = at
        case .atMillis(let ms):
            guard ms > 0, ms <= UInt64(Int64.max) else { return .error(Self.invalidExpire) }
            expiresAt = ms
        }
        let proceed: Bool
        switch condition {
        case .always: proceed = true
        case .ifAbsent: proceed = old == nil
        case .ifPresent: proceed = old != nil
        case .ifEqual(let expected): proceed = old == expected
        }
        if proceed { write(key, value, expiresAt: expiresAt, index: index) }
        if returnOld { return old.map(KVResult.bulk) ?? .null }
        return proceed ? .ok : .null
    }

    /// SETRANGE, as Redis runs it: an empty value only reports the length.
    private func setRange(_ key: StoreKey, offset: Int64, _ value: [UInt8], index: LogIndex) -> KVResult {
        guard offset >= 0 else { return .error(Self.offsetOutOfRange) }
        let old = liveValue(key)
        if value.isEmpty { return .integer(Int64(old?.count ?? 0)) }
        let (end, overflow) = offset.addingReportingOverflow(Int64(value.count))
        guard !overflow, end <= Int64(settings.maxValueBytes) else { return .error(Self.tooLarge) }
        var new = old ?? []
        let start = Int(offset), stop = Int(end)
        if new.count < stop { new.append(contentsOf: repeatElement(0, count: stop - new.count)) }
        new.replaceSubrange(start..<stop, with: value)
        write(key, new, expiresAt: keptExpiry(key), index: index)
        return .integer(Int64(new.count))
    }

    /// INCRBYFLOAT: the stored value and the increment must both be valid floats.
    private func incrementByFloat(_ key: StoreKey, by delta: [UInt8], index: LogIndex) -> KVResult {
        let old = liveValue(key)
        guard let current = old.map(FloatText.parse) ?? 0, let increment = FloatText.parse(delta) else { return .error(Self.notAFloat) }
        let sum = current + increment
        guard sum.isFinite else { return .error(Self.notFinite) }
        let text = FloatText.format(sum)
        write(key, text, expiresAt: keptExpiry(key), index: index)
        return .bulk(text)
    }

    /// RENAME / RENAMENX: the value keeps its expiry; the source's deletion is recorded in its
    /// history, the write in the target's.
    private func rename(_ source: StoreKey, _ target: StoreKey, onlyIfAbsent: Bool, index: LogIndex) -> KVResult {
        guard let value = liveValue(source) else { return .error(Self.noSuchKey) }
        if source == target { return onlyIfAbsent ? .integer(0) : .ok }
        if liveValue(target) != nil && onlyIfAbsent { return .integer(0) }
        let expiry = keptExpiry(source)
        delete(source, index: index)
        write(target, value, expiresAt: expiry, index: index)
        return onlyIfAbsent ? .integer(1) : .ok
    }

    /// INCRBY: a missing key counts as 0; the TTL is kept.
    private func increment(_ key: StoreKey, by delta: Int64, index: LogIndex) -> KVResult {
        var current: Int64 = 0
        if let old = liveValue(key) {
            guard let parsed = IntegerText.parse(old) else { return .error(Self.notAnInteger) }
            current = parsed
        }
        let (sum, overflow) = current.addingReportingOverflow(delta)
        guard !overflow else { return .error(Self.wouldOverflow) }
        write(key, IntegerText.format(sum), expiresAt: keptExpiry(key), index: index)
        return .integer(sum)
    }
}
