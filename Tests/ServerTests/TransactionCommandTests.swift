import KVStore
import NIOCore
import Testing
@testable import Server

/// MULTI / EXEC / DISCARD / WATCH / UNWATCH on one connection: Redis 7.2's replies and errors,
/// what EXEC routes, and how its reply is put together.
@Suite struct TransactionCommandTests {
    static func command(_ parts: String...) -> RESPCommand { RESPCommand(parts: parts.map { ByteBuffer(string: $0) }) }

    /// What the connection handler does with a command before anything is routed.
    static func send(_ c: RESPCommand, _ session: inout ClientSession) -> RESPValue {
        guard let spec = CommandTable.spec(named: c.name), spec.accepts(argumentCount: c.parts.count) else {
            session.transaction?.aborted = true
            return .error("ERR refused")
        }
        if session.transaction != nil, !TransactionCommands.runAtOnce.contains(c.name) {
            return TransactionCommands.queue(c, spec: spec, session: &session)
        }
        return TransactionCommands.reply(to: c.name, session: &session) ?? .error("ERR not handled here")
    }

    @Test func multiQueuesAndEXECRoutesTheKeyCommandsAsOneBlock() throws {
        var session = ClientSession(id: 1)
        #expect(Self.send(Self.command("MULTI"), &session) == .ok)
        #expect(Self.send(Self.command("SET", "a{t}", "1"), &session) == .simpleString("QUEUED"))
        #expect(Self.send(Self.command("PING"), &session) == .simpleString("QUEUED"))
        #expect(Self.send(Self.command("incr", "b{t}"), &session) == .simpleString("QUEUED"))
        guard case let .routed(args, local, total) = TransactionCommands.exec(session: &session) else {
            Issue.record("expected a routed block")
            return
        }
        #expect(session.transaction == nil)
        #expect(args.map { String(decoding: $0, as: UTF8.self) } == ["MYSTORE.TXN", "0", "3", "SET", "a{t}", "1", "2", "incr", "b{t}"])
        #expect(local.map(\.position) == [1])
        #expect(total == 3)
        let reply = TransactionCommands.assemble(routed: .array([.ok, .integer(1)]), local: local, total: total) { _ in .simpleString("PONG") }
        #expect(reply == .array([.ok, .simpleString("PONG"), .integer(1)]))
    }

    @Test func redisErrors() {
        var session = ClientSession(id: 1)
        #expect(TransactionCommands.reply(to: "DISCARD", session: &session) == .error("ERR DISCARD without MULTI"))
        if case .reply(let v) = TransactionCommands.exec(session: &session) {
            #expect(v == .error("ERR EXEC without MULTI"))
        } else {
            Issue.record("EXEC without MULTI must be refused")
        }
        #expect(Self.send(Self.command("MULTI"), &session) == .ok)
        #expect(Self.send(Self.command("MULTI"), &session) == .error("ERR MULTI calls can not be nested"))
        #expect(session.transaction?.aborted == false, "a nested MULTI does not abort the block")
        if case .failure(let e) = TransactionCommands.watch(Self.command("WATCH", "x"), session: session) {
            #expect(e.message == "ERR WATCH inside MULTI is not allowed")
        } else {
            Issue.record("WATCH inside MULTI must be refused")
        }
        #expect(Self.send(Self.command("DISCARD"), &session) == .ok)
        #expect(session.transaction == nil)
    }

    @Test func queueingErrorsAbortEXEC() {
        for bad in [Self.command("NOPE"), Self.command("GET"), Self.command("SET", "b", "1"), Self.command("FLUSHALL"), Self.command("MGET", "a", "b")] {
            var session = ClientSession(id: 1)
            _ = Self.send(Self.command("MULTI"), &session)
            _ = Self.send(Self.command("SET", "a", "1"), &session)
            let reply = Self.send(bad, &session)
            guard case .error = reply else {
                Issue.record("\(bad.name) should be refused inside this block")
                continue
            }
            _ = Self.send(Self.command("SET", "a", "2"), &session)
            guard case .reply(let v) = TransactionCommands.exec(session: &session) else {
                Issue.record("EXEC must abort")
                continue
            }
            #expect(v == TransactionCommands.execAbort)
            #expect(session.transaction == nil, "the block is cleared")
        }
        var session = ClientSession(id: 1)
        _ = Self.send(Self.command("MULTI"), &session)
        #expect(Self.send(Self.command("SET", "a", "1"), &session) == .simpleString("QUEUED"))
        #expect(Self.send(Self.command("SET", "b", "1"), &session) == .error("CROSSSLOT Keys in request don't hash to the same slot"))
    }

    @Test func watchedKeysGoWithTheBlockAndAreForgotten() {
        var session = ClientSession(id: 1)
        let fingerprint = KeyFingerprint(live: true, version: 4, expiresAt: 0, digest: 1)
        guard case .success(let args) = TransactionCommands.watch(Self.command("WATCH", "x{t}", "y{t}"), session: session) else {
            Issue.record("WATCH of one slot's keys")
            return
        }
        #expect(args.map { String(decoding: $0, as: UTF8.self) } == ["WATCH", "x{t}", "y{t}"])
        let fingerprints = RESPValue.array([.bulkString(ByteBuffer(bytes: fingerprint.encoded)), .bulkString(ByteBuffer(bytes: KeyFingerprint.missing.encoded))])
        #expect(TransactionCommands.watched([Array("x{t}".utf8), Array("y{t}".utf8)], reply: fingerprints, session: &session) == .ok)
        #expect(session.watched.count == 2)
        if case .failure(let e) = TransactionCommands.watch(Self.command("WATCH", "other"), session: session) {
            #expect(e.message.hasPrefix("CROSSSLOT"))
        } else {
            Issue.record("a watched key of another slot must be refused")
        }
        #expect(TransactionCommands.watched([Array("x".utf8)], reply: .error("TRYAGAIN later"), session: &session) == .error("TRYAGAIN later"))

        _ = Self.send(Self.command("MULTI"), &session)
        #expect(Self.send(Self.command("GET", "q"), &session).isError, "the block shares the watched keys' slot")
        _ = Self.send(Self.command("DISCARD"), &session)
        #expect(session.watched.isEmpty, "DISCARD unwatches")

        _ = TransactionCommands.watched([Array("x{t}".utf8)], reply: .array([.bulkString(ByteBuffer(bytes: fingerprint.encoded))]), session: &session)
        _ = Self.send(Self.command("MULTI"), &session)
        guard case let .routed(txn, _, _) = TransactionCommands.exec(session: &session) else {
            Issue.record("a block with a watched key is routed, even with nothing queued")
            return
        }
        #expect(txn.count == 4 && txn[1] == Array("1".utf8) && txn[3] == fingerprint.encoded)
        #expect(session.watched.isEmpty, "EXEC unwatches")
        #expect(TransactionCommands.assemble(routed: .nullArray, local: [], total: 0) { _ in .ok } == .nullArray)
        #expect(TransactionCommands.assemble(routed: .error("UNCERTAIN x"), local: [], total: 0) { _ in .ok } == .error("UNCERTAIN x"))
    }

    @Test func emptyAndLocalOnlyBlocks() {
        var session = ClientSession(id: 1)
        _ = Self.send(Self.command("MULTI"), &session)
        _ = Self.send(Self.command("PING"), &session)
        _ = Self.send(Self.command("ECHO", "x"), &session)
        guard case .localOnly(let commands) = TransactionCommands.exec(session: &session) else {
            Issue.record("no keys: run locally")
            return
        }
        #expect(commands.map(\.name) == ["PING", "ECHO"])
    }

    @Test func routedBlocksParseBackIntoOneEntry() throws {
        let limits = CommandParser.Limits(maxKeyBytes: 100, maxValueBytes: 100)
        let fp = KeyFingerprint(live: true, version: 1, expiresAt: 0, digest: 2)
        let args = Transaction.arguments(watching: [WatchedKey(key: Array("w{t}".utf8), fingerprint: fp)],
                                         commands: [["SET", "a{t}", "1", "BAD"], ["INCR", "a{t}"], ["TTL", "a{t}"]].map { $0.map { Array($0.utf8) } })
        guard case .success(.routed(.write(let keys, let command, let reply))) = Transaction.parse(Array(args.dropFirst()), limits: limits) else {
            Issue.record("a block with a write is one write")
            return
        }
        #expect(keys.map { String(decoding: $0, as: UTF8.self) } == ["w{t}", "a{t}", "a{t}"])
        #expect(command == .transaction(watches: [WatchedKey(key: Array("w{t}".utf8), fingerprint: fp)],
                                        steps: [.incrementBy(key: Array("a{t}".utf8), delta: 1), .read(.timeToLive(key: Array("a{t}".utf8)))]))
        #expect(reply(.array([.integer(1), .integer(-1)])) == .array([.error("ERR syntax error"), .integer(1), .integer(-1)]),
                "a command that fails to parse keeps its place; TTL maps milliseconds")
        #expect(reply(.null) == .nullArray)

        let reads = Transaction.arguments(watching: [], commands: [["GET", "a"], ["EXISTS", "a"]].map { $0.map { Array($0.utf8) } })
        guard case .success(.routed(.read)) = Transaction.parse(Array(reads.dropFirst()), limits: limits) else {
            Issue.record("a block of reads is one read")
            return
        }
        for broken in [["x"], ["1", "k"], ["1", "k", "short"], ["0", "3", "GET", "a"], ["0", "0"]] {
            let result = Transaction.parse(broken.map { Array($0.utf8) }, limits: limits)
            if case .success(.routed) = result { Issue.record("\(broken) must not be routed") }
        }
    }
}

extension RESPValue {
    var isError: Bool { if case .error = self { true } else { false } }
}
