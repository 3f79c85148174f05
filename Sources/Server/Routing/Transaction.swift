import KVStore
import NIOCore

/// A MULTI/EXEC block as the router runs it: the key commands of the block and the keys the
/// connection WATCHed, in one command,
///
///     MYSTORE.TXN <watch count> (<key> <fingerprint>)* (<argc> <arg>...)*
///
/// which becomes one `KVCommand.transaction` entry in the shard's log (or, when every command
/// reads, one linearizable read), so the block is atomic and the WATCH check happens inside
/// it. Being one command, it is forwarded to the shard's leader and retried exactly once
/// under the connection's session like any write.
enum Transaction {
    static let commandName = "MYSTORE.TXN"

    /// A transaction (or any key command) parsed by the router.
    enum Parsed {
        /// Routed to the shard owning the keys.
        case routed(ParsedCommand)
        /// Answered at once: a block with no keys at all.
        case immediate(RESPValue)
    }

    /// The `MYSTORE.TXN` arguments for `commands` (each a full command, name first).
    static func arguments(watching watches: [WatchedKey], commands: [[[UInt8]]]) -> [[UInt8]] {
        var args: [[UInt8]] = [Array(commandName.utf8), Array(String(watches.count).utf8)]
        for w in watches {
            args.append(w.key)
            args.append(w.fingerprint.encoded)
        }
        for command in commands {
            args.append(Array(String(command.count).utf8))
            args.append(contentsOf: command)
        }
        return args
    }

    /// Parses the arguments after `MYSTORE.TXN`. A command of the block that does not parse
    /// (a bad option, say) gets its error in its place of EXEC's reply and the rest still run,
    /// as Redis does for errors found at execution; a block whose form is broken is refused
    /// whole.
    static func parse(_ a: [[UInt8]], limits: CommandParser.Limits) -> Result<Parsed, ErrorReply> {
        let usage = ErrorReply("ERR usage: MYSTORE.TXN <watch count> (<key> <fingerprint>)* (<argc> <arg>...)*")
        guard let first = a.first, let watchCount = Int(String(decoding: first, as: UTF8.self)), watchCount >= 0,
              1 + 2 * watchCount <= a.count else { return .failure(usage) }
        var watches: [WatchedKey] = []
        var keys: [[UInt8]] = []
        for i in 0..<watchCount {
            let key = a[1 + 2 * i]
            guard let fingerprint = KeyFingerprint(encoded: a[2 + 2 * i]) else {
                return .failure(ErrorReply("ERR MYSTORE.TXN: watched key #\(i + 1) has a malformed fingerprint"))
            }
            watches.append(WatchedKey(key: key, fingerprint: fingerprint))
            keys.append(key)
        }
        // Each command's place in EXEC's reply: its step in the entry, or its error.
        var places: [Result<@Sendable (KVResult) -> RESPValue, ErrorReply>] = []
        var steps: [KVCommand] = []
        var i = 1 + 2 * watchCount
        while i < a.count {
            guard let argc = Int(String(decoding: a[i], as: UTF8.self)), argc >= 1, i + argc < a.count else { return .failure(usage) }
            let command = Array(a[(i + 1)...(i + argc)])
            i += argc + 1
            let name = String(decoding: command[0], as: UTF8.self).uppercased()
            guard name != commandName else { return .failure(ErrorReply("ERR MULTI calls can not be nested")) }
            let parsed = CommandParser.parse(command, name: name, limits: limits)
            switch parsed {
            case .failure(let e):
                places.append(.failure(e))
            case .success(let p):
                guard let step = p.transactionStep else {
                    places.append(.failure(ErrorReply("ERR '\(name.lowercased())' cannot run inside MULTI")))
                    continue
                }
                keys.append(contentsOf: p.keys)
                steps.append(step.command)
                places.append(.success(step.reply))
            }
        }
        let reply: @Sendable (KVResult) -> RESPValue = { [places] result in
            switch result {
            case .null:
                return .nullArray
            case .array(let results) where results.count == places.count(where: { (try? $0.get()) != nil }):
                var next = 0
                return .array(places.map { place in
                    switch place {
                    case .failure(let e): return e.value
                    case .success(let map):
                        defer { next += 1 }
                        return map(results[next])
                    }
                })
            case .error(let e):
                return .error(e)
            default:
                return .error("ERR unexpected transaction result \(result)")
            }
        }
        guard !keys.isEmpty else {
            return .success(.immediate(reply(.array([]))))
        }
        let reads = steps.compactMap { step -> KVRead? in if case .read(let r) = step { r } else { nil } }
        if reads.count == steps.count {
            return .success(.routed(.read(keys: keys) { [watches] sm in reply(sm.evaluate(watching: watches, reads)) }))
        }
        return .success(.routed(.write(keys: keys, command: .transaction(watches: watches, steps: steps), reply: reply)))
    }
}
