import KVStore
import MultiRaft
import NIOCore
import ShardRouter

/// A data command, parsed and checked, ready to be routed to the shard that owns its keys.
enum ParsedCommand {
    /// A write: replicated through the shard's Raft log; `reply` maps the state machine's
    /// result to what the client expects (SETNX's 1/0, for example).
    case write(keys: [[UInt8]], command: KVCommand, reply: @Sendable (KVResult) -> RESPValue)
    /// A read against the shard's state machine, linearizable unless the connection is READONLY.
    case read(keys: [[UInt8]], body: @Sendable (KVStateMachine) -> RESPValue)
    /// A read the state machine evaluates (`KVRead`), so it can also run inside a transaction;
    /// `reply` maps its result as for a write.
    case query(keys: [[UInt8]], read: KVRead, reply: @Sendable (KVResult) -> RESPValue)

    /// The command as one step of a transaction, with its reply mapping.
    var transactionStep: (command: KVCommand, reply: @Sendable (KVResult) -> RESPValue)? {
        switch self {
        case let .write(_, command, reply): (command, reply)
        case let .query(_, read, reply): (.read(read), reply)
        case .read: nil
        }
    }

    var keys: [[UInt8]] {
        switch self {
        case .write(let keys, _, _), .read(let keys, _), .query(let keys, _, _): keys
        }
    }
}

/// Parses the string commands (Redis semantics and error texts) into `ParsedCommand`s.
enum CommandParser {
    struct Limits {
        var maxKeyBytes: Int
        var maxValueBytes: Int
    }

    /// Commands this parser knows.
    static let names: Set<String> = [
        "GET", "SET", "SETNX", "SETEX", "PSETEX", "DEL", "UNLINK", "EXISTS", "INCR", "DECR", "INCRBY", "DECRBY",
        "APPEND", "STRLEN", "GETSET", "GETDEL", "MGET", "MSET", "TTL", "PTTL", "MYSTORE.HISTORY",
        "EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT", "PERSIST", "EXPIRETIME", "PEXPIRETIME", "TYPE", "TOUCH",
        "GETRANGE", "SUBSTR", "GETEX", "MSETNX", "WATCH", "SETRANGE", "INCRBYFLOAT", "LCS", "RENAME", "RENAMENX", "COPY", "SETBIT", "GETBIT", "MEMORY",
    ]

    /// `name` is the upper-cased `args[0]` when the caller has it already.
    static func parse(_ args: [[UInt8]], name: String? = nil, limits: Limits) -> Result<ParsedCommand, ErrorReply> {
        let name = name ?? String(decoding: args[0], as: UTF8.self).uppercased()
        let a = Array(args.dropFirst())
        func arity(_ ok: Bool) -> ErrorReply? { ok ? nil : ErrorReply("ERR wrong number of arguments for '\(name.lowercased())' command") }
        func checkKey(_ k: [UInt8]) -> ErrorReply? {
            k.count > limits.maxKeyBytes ? ErrorReply("ERR key is \(k.count) bytes; max_key_bytes is \(limits.maxKeyBytes)") : nil
        }
        func checkValue(_ v: [UInt8]) -> ErrorReply? {
            v.count > limits.maxValueBytes ? ErrorReply("ERR value is \(v.count) bytes; max_value_bytes is \(limits.maxValueBytes)") : nil
        }
        func integer(_ b: [UInt8]) -> Int64? { Int64(String(decoding: b, as: UTF8.self)) }
        let notInteger = ErrorReply("ERR value is not an integer or out of range")

        switch name {
        case "GET", "STRLEN", "TTL", "PTTL", "GETDEL", "INCR", "DECR":
            if let e = arity(a.count == 1) ?? checkKey(a[0]) { return .failure(e) }
            let key = a[0]
            switch name {
            case "GET": return .success(.query(keys: [key], read: .get(key: key), reply: plain))
            case "STRLEN": return .success(.query(keys: [key], read: .length(key: key), reply: plain))
            case "PTTL": return .success(.query(keys: [key], read: .timeToLive(key: key), reply: plain))
            case "TTL": return .success(.query(keys: [key], read: .timeToLive(key: key)) { r in
                guard case .integer(let t) = r else { return plain(r) }
                return .integer(t < 0 ? t : (t + 500) / 1000)
            })
            case "GETDEL": return .success(.write(keys: [key], command: .getDelete(key: key), reply: plain))
            case "INCR": return .success(.write(keys: [key], command: .incrementBy(key: key, delta: 1), reply: plain))
            default: return .success(.write(keys: [key], command: .incrementBy(key: key, delta: -1), reply: plain))
            }
        case "INCRBY", "DECRBY":
            if let e = arity(a.count == 2) ?? checkKey(a[0]) { return .failure(e) }
            guard let n = integer(a[1]), name == "INCRBY" || n != .min else { return .failure(notInteger) }
            return .success(.write(keys: [a[0]], command: .incrementBy(key: a[0], delta: name == "INCRBY" ? n : -n), reply: plain))
        case "APPEND", "GETSET", "SETNX":
            if let e = arity(a.count == 2) ?? checkKey(a[0]) ?? checkValue(a[1]) { return .failure(e) }
            switch name {
            case "APPEND": return .success(.write(keys: [a[0]], command: .append(key: a[0], value: a[1]), reply: plain))
            case "GETSET": return .success(.write(keys: [a[0]], command: .getSet(key: a[0], value: a[1]), reply: plain))
            default:
                return .success(.write(keys: [a[0]], command: .set(key: a[0], value: a[1], condition: .ifAbsent, expiry: .none, returnOld: false)) { r in
                    r == .ok ? .integer(1) : r == .null ? .integer(0) : plain(r)
                })
            }
        case "SETEX", "PSETEX":
            if let e = arity(a.count == 3) ?? checkKey(a[0]) ?? checkValue(a[2]) { return .failure(e) }
            guard let t = integer(a[1]) else { return .failure(notInteger) }
            guard t > 0 else { return .failure(ErrorReply("ERR invalid expire time in '\(name.lowercased())' command")) }
            let ms = UInt64(t) * (name == "SETEX" ? 1000 : 1)
            return .success(.write(keys: [a[0]], command: .set(key: a[0], value: a[2], condition: .always, expiry: .afterMillis(ms), returnOld: false), reply: plain))
        case "SET":
            return parseSet(a, limits: limits, checkKey: checkKey, checkValue: checkValue)
        case "DEL", "UNLINK", "EXISTS", "MGET":
            if let e = arity(!a.isEmpty) { return .failure(e) }
            for k in a { if let e = checkKey(k) { return .failure(e) } }
            switch name {
            case "EXISTS": return .success(.query(keys: a, read: .count(keys: a), reply: plain))
            case "MGET": return .success(.query(keys: a, read: .getMany(keys: a), reply: plain))
            default: return .success(.write(keys: a, command: .delete(keys: a), reply: plain))
            }
        case "MSET":
            if let e = arity(!a.isEmpty && a.count % 2 == 0) { return .failure(e) }
            var pairs: [([UInt8], [UInt8])] = []
            for i in stride(from: 0, to: a.count, by: 2) {
                if let e = checkKey(a[i]) ?? checkValue(a[i + 1]) { return .failure(e) }
                pairs.append((a[i], a[i + 1]))
            }
            return .success(.write(keys: pairs.map(\.0), command: .multiSet(pairs: pairs), reply: plain))
        case "EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT":
            return parseExpire(name, a, checkKey: checkKey)
        case "PERSIST":
            if let e = arity(a.count == 1) ?? checkKey(a[0]) { return .failure(e) }
            return .success(.write(keys: [a[0]], command: .persist(key: a[0]), reply: plain))
        case "EXPIRETIME", "PEXPIRETIME", "TYPE":
            if let e = arity(a.count == 1) ?? checkKey(a[0]) { return .failure(e) }
            let key = a[0]
            switch name {
            case "TYPE": return .success(.query(keys: [key], read: .count(keys: [key])) { r in .simpleString(r == .integer(1) ? "string" : "none") })
            case "EXPIRETIME": return .success(.query(keys: [key], read: .expiryTime(key: key)) { r in
                guard case .integer(let at) = r else { return plain(r) }
                return .integer(at < 0 ? at : at / 1000)
            })
            default: return .success(.query(keys: [key], read: .expiryTime(key: key), reply: plain))
            }
        case "GETEX":
            return parseGetEx(a, checkKey: checkKey)
        case "MSETNX":
            if let e = arity(!a.isEmpty && a.count % 2 == 0) { return .failure(e) }
            var pairs: [([UInt8], [UInt8])] = []
            for i in stride(from: 0, to: a.count, by: 2) {
                if let e = checkKey(a[i]) ?? checkValue(a[i + 1]) { return .failure(e) }
                pairs.append((a[i], a[i + 1]))
            }
            return .success(.write(keys: pairs.map(\.0), command: .multiSetIfAbsent(pairs: pairs), reply: plain))
        case "GETRANGE", "SUBSTR":
            if let e = arity(a.count == 3) ?? checkKey(a[0]) { return .failure(e) }
            guard let start = integer(a[1]), let end = integer(a[2]) else { return .failure(notInteger) }
            let key = a[0]
            return .success(.query(keys: [key], read: .range(key: key, start: start, end: end), reply: plain))
        case "TOUCH":
            if let e = arity(!a.isEmpty) { return .failure(e) }
            for k in a { if let e = checkKey(k) { return .failure(e) } }
            return .success(.query(keys: a, read: .count(keys: a), reply: plain))
        case "WATCH":
            if let e = arity(!a.isEmpty) { return .failure(e) }
            for k in a { if let e = checkKey(k) { return .failure(e) } }
            return .success(.query(keys: a, read: .fingerprints(keys: a), reply: plain))
        case "SETRANGE":
            if let e = arity(a.count == 3) ?? checkKey(a[0]) ?? checkValue(a[2]) { return .failure(e) }
            guard let offset = integer(a[1]) else { return .failure(notInteger) }
            guard offset >= 0 else { return .failure(ErrorReply("ERR offset is out of range")) }
            return .success(.write(keys: [a[0]], command: .setRange(key: a[0], offset: offset, value: a[2]), reply: plain))
        case "INCRBYFLOAT":
            if let e = arity(a.count == 2) ?? checkKey(a[0]) { return .failure(e) }
            return .success(.write(keys: [a[0]], command: .incrementByFloat(key: a[0], delta: a[1]), reply: plain))
        case "RENAME", "RENAMENX":
            if let e = arity(a.count == 2) ?? checkKey(a[0]) ?? checkKey(a[1]) { return .failure(e) }
            return .success(.write(keys: [a[0], a[1]], command: .rename(from: a[0], to: a[1], onlyIfAbsent: name == "RENAMENX"), reply: plain))
        case "COPY":
            return parseCopy(a, checkKey: checkKey)
        case "SETBIT", "GETBIT":
            if let e = arity(a.count == (name == "SETBIT" ? 3 : 2)) ?? checkKey(a[0]) { return .failure(e) }
            // As Redis: an offset is a bit of a string of at most proto-max-bulk-len (512 MB).
            guard let offset = integer(a[1]), offset >= 0, offset >> 3 < 512 << 20 else {
                return .failure(ErrorReply("ERR bit offset is not an integer or out of range"))
            }
            if name == "GETBIT" { return .success(.query(keys: [a[0]], read: .bit(key: a[0], offset: UInt64(offset)), reply: plain)) }
            guard let bit = integer(a[2]), bit == 0 || bit == 1 else { return .failure(ErrorReply("ERR bit is not an integer or out of range")) }
            return .success(.write(keys: [a[0]], command: .setBit(key: a[0], offset: UInt64(offset), bit: bit == 1), reply: plain))
        case "MEMORY":
            return parseMemory(a, checkKey: checkKey)
        case "LCS":
            return LongestCommonSubsequence.parse(a, checkKey: checkKey)
        case "MYSTORE.HISTORY":
            if let e = arity(a.count == 1 || a.count == 2) ?? checkKey(a[0]) { return .failure(e) }
            let key = a[0]
            guard let n = a.count == 2 ? integer(a[1]) : 8, n >= 0 else { return .failure(notInteger) }
            return .success(.query(keys: [key], read: .history(key: key, limit: Int(min(n, 1_000))), reply: plain))
        default:
            return .failure(ErrorReply("ERR unknown command '\(name.lowercased())'"))
        }
    }

    /// MEMORY USAGE key [SAMPLES n]: the bytes the key's record holds (key, value, and the
    /// record, index and history entry around them), null when missing.
    static func parseMemory(_ a: [[UInt8]], checkKey: ([UInt8]) -> ErrorReply?) -> Result<ParsedCommand, ErrorReply> {
        guard let sub = a.first.map({ String(decoding: $0, as: UTF8.self).uppercased() }), sub == "USAGE" else {
            return .failure(ErrorReply("ERR unknown subcommand '\(a.first.map { String(decoding: $0, as: UTF8.self) } ?? "")'. Try MEMORY HELP."))
        }
        guard a.count == 2 || a.count == 4 else { return .failure(ErrorReply("ERR syntax error")) }
        if a.count == 4 {
            guard String(decoding: a[2], as: UTF8.self).uppercased() == "SAMPLES" else { return .failure(ErrorReply("ERR syntax error")) }
            guard Int64(String(decoding: a[3], as: UTF8.self)) != nil else { return .failure(ErrorReply("ERR value is not an integer or out of range")) }
        }
        let key = a[1]
        if let e = checkKey(key) { return .failure(e) }
        return .success(.query(keys: [key], read: .get(key: key)) { r in
            guard case .bulk(let value) = r else { return .null }
            return .integer(Int64(key.count + value.count + Self.recordOverheadBytes))
        })
    }

    /// What a key costs beyond its bytes: the dictionary slot, the record, its place in the key
    /// order and one history entry (measured on 64-bit Linux).
    static let recordOverheadBytes = 120

    /// COPY source destination [DB 0] [REPLACE]: MyStore has only database 0.
    static func parseCopy(_ a: [[UInt8]], checkKey: ([UInt8]) -> ErrorReply?) -> Result<ParsedCommand, ErrorReply> {
        guard a.count >= 2 else { return .failure(ErrorReply("ERR wrong number of arguments for 'copy' command")) }
        if let e = checkKey(a[0]) ?? checkKey(a[1]) { return .failure(e) }
        var replace = false
        var i = 2
        while i < a.count {
            switch String(decoding: a[i], as: UTF8.self).uppercased() {
            case "REPLACE":
                replace = true
            case "DB" where i + 1 < a.count:
                guard let db = Int64(String(decoding: a[i + 1], as: UTF8.self)) else {
                    return .failure(ErrorReply("ERR value is not an integer or out of range"))
                }
                guard db == 0 else { return .failure(ErrorReply("ERR DB index is out of range")) }
                i += 1
            default:
                return .failure(ErrorReply("ERR syntax error"))
            }
            i += 1
        }
        guard a[0] != a[1] else { return .failure(ErrorReply("ERR source and destination objects are the same")) }
        return .success(.write(keys: [a[0], a[1]], command: .copy(from: a[0], to: a[1], replace: replace), reply: plain))
    }

    /// GETEX key [EX s | PX ms | EXAT ts | PXAT ms | PERSIST], with Redis's errors.
    static func parseGetEx(_ a: [[UInt8]], checkKey: ([UInt8]) -> ErrorReply?) -> Result<ParsedCommand, ErrorReply> {
        guard !a.isEmpty else { return .failure(ErrorReply("ERR wrong number of arguments for 'getex' command")) }
        if let e = checkKey(a[0]) { return .failure(e) }
        let syntax = ErrorReply("ERR syntax error")
        var expiry: Expiry?
        var i = 1
        while i < a.count {
            let option = String(decoding: a[i], as: UTF8.self).uppercased()
            guard expiry == nil else { return .failure(syntax) }
            switch option {
            case "PERSIST":
                expiry = Expiry.none
            case "EX", "PX", "EXAT", "PXAT":
                guard i + 1 < a.count else { return .failure(syntax) }
                guard let t = Int64(String(decoding: a[i + 1], as: UTF8.self)) else {
                    return .failure(ErrorReply("ERR value is not an integer or out of range"))
                }
                guard t > 0, t < Int64.max / 1000 else { return .failure(ErrorReply("ERR invalid expire time in 'getex' command")) }
                let ms = UInt64(t) * (option == "EX" || option == "EXAT" ? 1000 : 1)
                expiry = option.hasSuffix("AT") ? .atMillis(ms) : .afterMillis(ms)
                i += 1
            default:
                return .failure(syntax)
            }
            i += 1
        }
        return .success(.write(keys: [a[0]], command: .getExpire(key: a[0], expiry: expiry), reply: plain))
    }

    /// EXPIRE | PEXPIRE | EXPIREAT | PEXPIREAT key time [NX | XX | GT | LT], with Redis 7's
    /// errors. A time in seconds is turned into milliseconds here; the state machine adds the
    /// entry's timestamp to a relative one.
    static func parseExpire(_ name: String, _ a: [[UInt8]], checkKey: ([UInt8]) -> ErrorReply?) -> Result<ParsedCommand, ErrorReply> {
        guard a.count >= 2 else { return .failure(ErrorReply("ERR wrong number of arguments for '\(name.lowercased())' command")) }
        if let e = checkKey(a[0]) { return .failure(e) }
        guard let time = Int64(String(decoding: a[1], as: UTF8.self)) else {
            return .failure(ErrorReply("ERR value is not an integer or out of range"))
        }
        var nx = false, xx = false, gt = false, lt = false
        for option in a.dropFirst(2) {
            switch String(decoding: option, as: UTF8.self).uppercased() {
            case "NX": nx = true
            case "XX": xx = true
            case "GT": gt = true
            case "LT": lt = true
            case let other: return .failure(ErrorReply("ERR Unsupported option \(other)"))
            }
        }
        if nx && (xx || gt || lt) { return .failure(ErrorReply("ERR NX and XX, GT or LT options at the same time are not compatible")) }
        if gt && lt { return .failure(ErrorReply("ERR GT and LT options at the same time are not compatible")) }
        let seconds = name == "EXPIRE" || name == "EXPIREAT"
        let (millis, overflow) = seconds ? time.multipliedReportingOverflow(by: 1000) : (time, false)
        guard !overflow else { return .failure(ErrorReply("ERR invalid expire time in '\(name.lowercased())' command")) }
        let condition: ExpireCondition = nx ? .ifNone : xx ? .ifAny : gt ? .ifLater : lt ? .ifSooner : .always
        let command = KVCommand.expire(key: a[0], millis: millis, absolute: name.hasSuffix("AT"), condition: condition)
        return .success(.write(keys: [a[0]], command: command, reply: { r in
            // The state machine words its error for EXPIRE; the client sees its own command's name.
            if case .error(let e) = r { return .error(e.replacingExpireName(with: name.lowercased())) }
            return plain(r)
        }))
    }

    /// SET key value [NX | XX | IFEQ v] [GET] [EX s | PX ms | EXAT ts | PXAT ms | KEEPTTL]
    static func parseSet(_ a: [[UInt8]], limits: Limits, checkKey: ([UInt8]) -> ErrorReply?, checkValue: ([UInt8]) -> ErrorReply?) -> Result<ParsedCommand, ErrorReply> {
        guard a.count >= 2 else { return .failure(ErrorReply("ERR wrong number of arguments for 'set' command")) }
        if let e = checkKey(a[0]) ?? checkValue(a[1]) { return .failure(e) }
        let syntax = ErrorReply("ERR syntax error")
        var condition = SetCondition.always, expiry = Expiry.none, returnOld = false
        var conditionSet = false, expirySet = false
        var i = 2
        while i < a.count {
            let opt = String(decoding: a[i], as: UTF8.self).uppercased()
            switch opt {
            case "NX", "XX":
                guard !conditionSet else { return .failure(syntax) }
                condition = opt == "NX" ? .ifAbsent : .ifPresent
                conditionSet = true
            case "IFEQ":
                guard !conditionSet, i + 1 < a.count else { return .failure(syntax) }
                condition = .ifEqual(a[i + 1])
                conditionSet = true
                i += 1
            case "GET":
                returnOld = true
            case "KEEPTTL":
                guard !expirySet else { return .failure(syntax) }
                expiry = .keep
                expirySet = true
            case "EX", "PX", "EXAT", "PXAT":
                guard !expirySet, i + 1 < a.count else { return .failure(syntax) }
                guard let t = Int64(String(decoding: a[i + 1], as: UTF8.self)) else {
                    return .failure(ErrorReply("ERR value is not an integer or out of range"))
                }
                guard t > 0, t < Int64.max / 1000 else { return .failure(ErrorReply("ERR invalid expire time in 'set' command")) }
                let ms = UInt64(t) * (opt == "EX" || opt == "EXAT" ? 1000 : 1)
                expiry = opt.hasSuffix("AT") ? .atMillis(ms) : .afterMillis(ms)
                expirySet = true
                i += 1
            default:
                return .failure(syntax)
            }
            i += 1
        }
        return .success(.write(keys: [a[0]], command: .set(key: a[0], value: a[1], condition: condition, expiry: expiry, returnOld: returnOld), reply: plain))
    }

    /// The state machine's result as the client sees it.
    @Sendable static func plain(_ r: KVResult) -> RESPValue {
        switch r {
        case .ok: .ok
        case .null: .null
        case .integer(let n): .integer(n)
        case .bulk(let b): .bulkString(ByteBuffer(bytes: b))
        case .error(let e): .error(e)
        case .array(let items): .array(items.map(plain))
        }
    }
}

/// An error reply.
struct ErrorReply: Error {
    var message: String
    init(_ message: String) { self.message = message }
    var value: RESPValue { .error(message) }
}

extension String {
    /// `ERR invalid expire time in 'expire' command` for another command of the family.
    fileprivate func replacingExpireName(with name: String) -> String {
        guard hasSuffix("'expire' command") else { return self }
        return String(dropLast("'expire' command".count)) + "'\(name)' command"
    }
}
