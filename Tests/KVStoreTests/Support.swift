import MultiRaft
@testable import KVStore

/// A replica under test: feeds requests as consecutive log entries, as a Raft host would.
final class Replica {
    let machine: KVStateMachine
    private(set) var nextIndex: LogIndex = 1
    /// The timestamp of the next request unless one is given.
    var now: UInt64 = 1_000

    init(settings: KVSettings = KVSettings()) { machine = KVStateMachine(settings: settings) }

    @discardableResult
    func apply(_ command: KVCommand, at time: UInt64? = nil, client: UInt64 = 0, sequence: UInt64 = 0) -> KVResult {
        if let time { now = time }
        return applyRaw(KVRequest(clientID: client, sequence: sequence, timestampMillis: now, command: command).encoded())
    }

    @discardableResult
    func applyRaw(_ data: [UInt8]) -> KVResult {
        defer { nextIndex += 1 }
        return machine.apply(index: nextIndex, data: data)
    }

    func set(_ key: String, _ value: String, _ condition: SetCondition = .always, _ expiry: Expiry = .none,
             get: Bool = false, at time: UInt64? = nil) -> KVResult {
        apply(.set(key: b(key), value: b(value), condition: condition, expiry: expiry, returnOld: get), at: time)
    }

    func get(_ key: String) -> String? { machine.get(b(key)).map { String(decoding: $0, as: UTF8.self) } }
}

func b(_ s: String) -> [UInt8] { Array(s.utf8) }
func bulk(_ s: String) -> KVResult { .bulk(b(s)) }

/// Every observable part of a state machine's state, for comparing replicas.
func snapshotBytes(_ m: KVStateMachine) -> [UInt8] {
    var all: [UInt8] = []
    m.writeSnapshot { all.append(contentsOf: $0) }
    return all
}

/// A stream source that hands out `bytes` in pieces of `size`.
func pieces(_ bytes: [UInt8], size: Int) -> () -> [UInt8]? {
    var offset = 0
    return {
        guard offset < bytes.count else { return nil }
        let end = min(offset + size, bytes.count)
        defer { offset = end }
        return Array(bytes[offset..<end])
    }
}

/// A random command over a small key space, so commands collide on keys.
func randomCommand(_ rng: inout SplitMix64, keys: Int = 50) -> KVCommand {
    func key() -> [UInt8] { b("k\(Int.random(in: 0..<keys, using: &rng))") }
    func value() -> [UInt8] { Bool.random(using: &rng) ? b("\(Int.random(in: -5...5, using: &rng))") : b("v\(rng.next() % 1000)") }
    switch rng.next() % 10 {
    case 0, 1:
        let conditions: [SetCondition] = [.always, .always, .ifAbsent, .ifPresent, .ifEqual(value())]
        let expiries: [Expiry] = [.none, .keep, .afterMillis(rng.next() % 500 + 1), .atMillis(rng.next() % 5_000 + 1)]
        return .set(key: key(), value: value(), condition: conditions.randomElement(using: &rng)!,
                    expiry: expiries.randomElement(using: &rng)!, returnOld: Bool.random(using: &rng))
    case 2: return .delete(keys: [key(), key()])
    case 3: return .incrementBy(key: key(), delta: Int64.random(in: -3...3, using: &rng))
    case 4: return .append(key: key(), value: value())
    case 5: return .getDelete(key: key())
    case 6: return .getSet(key: key(), value: value())
    case 7:
        let conditions: [ExpireCondition] = [.always, .ifNone, .ifAny, .ifLater, .ifSooner]
        return .expire(key: key(), millis: Int64.random(in: -50...600, using: &rng), absolute: Bool.random(using: &rng),
                       condition: conditions.randomElement(using: &rng)!)
    case 8: return rng.next() % 20 == 0 ? .flush : .persist(key: key())
    default:
        switch rng.next() % 4 {
        case 0: return .multiSetIfAbsent(pairs: [(key(), value()), (key(), value())])
        case 1:
            let expiries: [Expiry?] = [nil, Expiry.none, .afterMillis(rng.next() % 500 + 1), .atMillis(rng.next() % 5_000 + 1)]
            return .getExpire(key: key(), expiry: expiries.randomElement(using: &rng)!)
        default: return .multiSet(pairs: [(key(), value()), (key(), value())])
        }
    }
}
