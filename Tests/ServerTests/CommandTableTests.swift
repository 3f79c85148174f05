import Foundation
import NIOCore
import Testing
@testable import Server

/// The command table is the one description of every command served: the parser, the router,
/// the connection commands and the docs must agree with it.
@Suite struct CommandTableTests {
    static func wire(_ value: RESPValue) -> String {
        var buffer = ByteBuffer()
        buffer.writeRESPValue(value)
        return String(buffer: buffer)
    }

    static func command(_ parts: [String]) -> RESPValue {
        CommandIntrospection.reply(RESPCommand(parts: parts.map { ByteBuffer(string: $0) }))
    }

    static let limits = CommandParser.Limits(maxKeyBytes: 1 << 16, maxValueBytes: 1 << 20)

    static func isArityError(_ r: Result<ParsedCommand, ErrorReply>) -> Bool {
        if case .failure(let e) = r { return e.message.hasPrefix("ERR wrong number of arguments") }
        return false
    }

    @Test func everyCommandTheServerAnswersIsInTheTableOnce() {
        #expect(CommandTable.byName.count == CommandTable.commands.count, "no name twice")
        for name in CommandParser.names.union(CommandRouter.adminNames) {
            #expect(CommandTable.spec(named: name)?.scope == .routed, "\(name)")
        }
        for spec in CommandTable.commands where spec.scope == .connection {
            // Answered by the connection: never Redis's unknown-command reply.
            let args = [spec.name] + Array(repeating: "0", count: max(spec.arity, -spec.arity) - 1)
            var session = ClientSession(id: 1)
            let reply = ConnectionCommands.reply(to: RESPCommand(parts: args.map { ByteBuffer(string: $0) }), session: &session,
                                                 identity: ServerIdentity(address: "127.0.0.1:7001", clusterSize: 3, processID: 1), uptimeSeconds: 0)
            if case .error(let e) = reply { #expect(!e.contains("unknown command"), "\(spec.name): \(e)") }
        }
        for spec in CommandTable.commands {
            #expect(spec.flags.contains("write") != spec.flags.contains("readonly") || (!spec.isWrite && !spec.hasKeys) || spec.name == "WATCH",
                    "\(spec.name)")
            #expect(spec.categories.contains("fast") != spec.categories.contains("slow") || spec.categories == ["slow", "dangerous"] || !spec.categories.contains("fast"),
                    "\(spec.name)")
            #expect(spec.categories.contains("write") == spec.isWrite, "\(spec.name): the write category and the write flag agree")
        }
    }

    /// The parser enforces the same arity as the table: a key command with exactly its arity
    /// parses past the arity check, one argument fewer (or more, for a fixed arity) does not.
    @Test func theParserAgreesWithTheTablesArity() {
        for name in CommandParser.names {
            let spec = CommandTable.spec(named: name)!
            let needed = abs(spec.arity)
            let ok = [name] + Array(repeating: "1", count: needed - 1)
            #expect(!Self.isArityError(CommandParser.parse(ok.map { Array($0.utf8) }, limits: Self.limits)), "\(name) with \(needed)")
            let fewer = Array(ok.dropLast())
            if fewer.count > 1 || needed > 1 {
                #expect(Self.isArityError(CommandParser.parse(fewer.map { Array($0.utf8) }, limits: Self.limits)) || fewer.count == 1 && !spec.accepts(argumentCount: 1),
                        "\(name) with \(needed - 1)")
                #expect(!spec.accepts(argumentCount: needed - 1))
            }
            if spec.arity > 0 {
                let more = ok + ["1"]
                #expect(Self.isArityError(CommandParser.parse(more.map { Array($0.utf8) }, limits: Self.limits)) || name == "MYSTORE.HISTORY", "\(name) with \(needed + 1)")
            }
        }
    }

    @Test func commandInfoHasRedisShape() {
        // Redis 7.2's `COMMAND INFO GET`, byte for byte.
        let get = "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n"
            + "*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+ACCESS\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n"
            + "$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n"
        #expect(Self.wire(Self.command(["COMMAND", "INFO", "get"])) == get)
        #expect(Self.wire(Self.command(["COMMAND", "INFO", "nope"])) == "*1\r\n$-1\r\n")
        guard case .array(let all) = Self.command(["COMMAND"]) else { Issue.record("COMMAND is an array"); return }
        #expect(all.count == CommandTable.commands.count)
        #expect(Self.wire(Self.command(["COMMAND", "COUNT"])) == ":\(CommandTable.commands.count)\r\n")
        guard case .array(let mset) = Self.command(["COMMAND", "INFO", "MSET"]), case .array(let fields) = mset[0] else { Issue.record("array"); return }
        #expect(fields[1] == .integer(-3) && fields[3] == .integer(1) && fields[4] == .integer(-1) && fields[5] == .integer(2))
    }

    @Test func getKeysFollowsTheTable() {
        #expect(Self.command(["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"]) == .array([.bulk("a"), .bulk("b")]))
        #expect(Self.command(["COMMAND", "GETKEYS", "SET", "k", "v", "EX", "5"]) == .array([.bulk("k")]))
        #expect(Self.command(["COMMAND", "GETKEYS", "DEL", "a", "b", "c"]) == .array([.bulk("a"), .bulk("b"), .bulk("c")]))
        #expect(Self.command(["COMMAND", "GETKEYS", "MYSTORE.EXEC", "9", "1", "MSET", "x", "1", "y", "2"]) == .array([.bulk("x"), .bulk("y")]))
        #expect(Self.command(["COMMAND", "GETKEYS", "PING"]) == .error("ERR The command has no key arguments"))
        #expect(Self.command(["COMMAND", "GETKEYS", "NOPE", "a"]) == .error("ERR Invalid command specified"))
        #expect(Self.command(["COMMAND", "GETKEYS", "GET"]) == .error("ERR Invalid number of arguments specified for command"))
    }

    @Test func listAndDocs() {
        guard case .array(let names) = Self.command(["COMMAND", "LIST"]) else { Issue.record("array"); return }
        #expect(names.count == CommandTable.commands.count && names.contains(.bulk("get")))
        #expect(Self.command(["COMMAND", "LIST", "FILTERBY", "PATTERN", "mystore.s*"])
                == .array([.bulk("mystore.status"), .bulk("mystore.shardwait"), .bulk("mystore.shardcount"), .bulk("mystore.shardscan"), .bulk("mystore.shardflush"),
                            .bulk("mystore.shardmove")]))
        guard case .array(let admin) = Self.command(["COMMAND", "LIST", "FILTERBY", "ACLCAT", "admin"]) else { Issue.record("array"); return }
        #expect(admin.contains(.bulk("mystore.node")) && !admin.contains(.bulk("get")))
        guard case .map(let docs) = Self.command(["COMMAND", "DOCS", "get"]), docs.count == 2, case .map(let fields) = docs[1] else {
            Issue.record("docs"); return
        }
        #expect(docs[0] == .bulk("get") && fields[0] == .bulk("summary") && fields.contains(.bulk("string")))
        #expect(Self.command(["COMMAND", "FOO"]) == .error("ERR unknown subcommand 'FOO'. Try COMMAND HELP."))
    }

    /// docs/compatibility.md names every command of the table.
    @Test func theCompatibilityPageListsEveryCommand() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let page = try String(contentsOf: root.appendingPathComponent("docs/compatibility.md"), encoding: .utf8)
        for spec in CommandTable.commands {
            #expect(page.contains("`\(spec.name)`"), "docs/compatibility.md does not list \(spec.name)")
        }
    }
}
