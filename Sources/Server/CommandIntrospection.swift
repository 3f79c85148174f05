import KVStore
import NIOCore

/// `COMMAND` and its subcommands, from `CommandTable`, in Redis 7.2's reply shapes, so cluster
/// clients (redis-py's `RedisCluster`, for one) find every command's keys.
enum CommandIntrospection {
    static func reply(_ command: RESPCommand) -> RESPValue {
        let arguments = command.arguments.map { Array($0.readableBytesView) }
        guard let sub = command.argumentText(0)?.uppercased() else {
            return .array(CommandTable.commands.map(describe))
        }
        let rest = Array(arguments.dropFirst())
        switch sub {
        case "COUNT":
            guard rest.isEmpty else { return wrongArity("command|count") }
            return .integer(Int64(CommandTable.commands.count))
        case "INFO":
            if rest.isEmpty { return .array(CommandTable.commands.map(describe)) }
            return .array(rest.map { name in spec(name).map(describe) ?? .null })
        case "DOCS":
            let specs = rest.isEmpty ? CommandTable.commands : rest.compactMap(spec)
            return .map(specs.flatMap { s in [.bulk(s.name.lowercased()), docs(s)] })
        case "LIST":
            return list(rest)
        case "GETKEYS":
            return getKeys(rest)
        case "HELP":
            return .array([
                "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "(no subcommand)", "    Return details about all commands.",
                "COUNT", "    Return the total number of commands in this server.",
                "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]", "    Return a list of all commands in this server.",
                "INFO [<command-name> ...]", "    Return details about multiple commands.",
                "DOCS [<command-name> ...]", "    Return documentation details about multiple commands.",
                "GETKEYS <full-command>", "    Return the keys from a full command.",
                "HELP", "    Print this help.",
            ].map { .simpleString($0) })
        default:
            return .error("ERR unknown subcommand '\(String(sub.prefix(128)))'. Try COMMAND HELP.")
        }
    }

    private static func spec(_ name: [UInt8]) -> CommandSpec? {
        CommandTable.spec(named: String(decoding: name, as: UTF8.self).uppercased())
    }

    private static func wrongArity(_ name: String) -> RESPValue {
        .error("ERR wrong number of arguments for '\(name)' command")
    }

    /// One command as `COMMAND INFO` gives it: name, arity, flags, first key, last key, step,
    /// ACL categories, tips, key specifications, subcommands.
    static func describe(_ s: CommandSpec) -> RESPValue {
        var keySpecs: [RESPValue] = []
        if s.hasKeys {
            let lastKey = s.lastKey >= 0 ? s.lastKey - s.firstKey : s.lastKey
            keySpecs = [.map([
                .bulk("flags"), .set(s.keySpecFlags.map { .simpleString($0) }),
                .bulk("begin_search"), .map([.bulk("type"), .bulk("index"), .bulk("spec"), .map([.bulk("index"), .integer(Int64(s.firstKey))])]),
                .bulk("find_keys"), .map([.bulk("type"), .bulk("range"), .bulk("spec"),
                                          .map([.bulk("lastkey"), .integer(Int64(lastKey)), .bulk("keystep"), .integer(Int64(s.step)),
                                                .bulk("limit"), .integer(0)])]),
            ])]
        }
        return .array([
            .bulk(s.name.lowercased()), .integer(Int64(s.arity)), .set(s.flags.map { .simpleString($0) }),
            .integer(Int64(s.firstKey)), .integer(Int64(s.lastKey)), .integer(Int64(s.step)),
            .set(s.categories.map { .simpleString("@" + $0) }), .array([]), .array(keySpecs), .array([]),
        ])
    }

    private static func docs(_ s: CommandSpec) -> RESPValue {
        .map([.bulk("summary"), .bulk(s.summary), .bulk("since"), .bulk(s.since), .bulk("group"), .bulk(s.group)])
    }

    /// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]
    private static func list(_ a: [[UInt8]]) -> RESPValue {
        let names = CommandTable.commands.map { $0.name.lowercased() }
        if a.isEmpty { return .array(names.map { .bulk($0) }) }
        guard a.count == 3, String(decoding: a[0], as: UTF8.self).uppercased() == "FILTERBY" else { return .error("ERR syntax error") }
        let value = a[2]
        switch String(decoding: a[1], as: UTF8.self).uppercased() {
        case "MODULE":
            return .array([])  // no modules
        case "ACLCAT":
            let category = String(decoding: value, as: UTF8.self).lowercased()
            return .array(CommandTable.commands.filter { $0.categories.contains(category) }.map { .bulk($0.name.lowercased()) })
        case "PATTERN":
            let pattern = GlobPattern(value)
            return .array(names.filter { pattern.matches(Array($0.utf8)) }.map { .bulk($0) })
        default:
            return .error("ERR syntax error")
        }
    }

    /// COMMAND GETKEYS command arg...: the keys by the table's positions; for MYSTORE.EXEC, the
    /// keys of the command it wraps.
    private static func getKeys(_ full: [[UInt8]]) -> RESPValue {
        guard let first = full.first else { return wrongArity("command|getkeys") }
        guard let s = spec(first) else { return .error("ERR Invalid command specified") }
        guard s.accepts(argumentCount: full.count) else { return .error("ERR Invalid number of arguments specified for command") }
        var positions = s.keyPositions(argumentCount: full.count)
        if s.name == "MYSTORE.EXEC" {
            let inner = Array(full.dropFirst(3))
            guard let innerSpec = spec(inner[0]), innerSpec.accepts(argumentCount: inner.count) else {
                return .error("ERR Invalid arguments specified for command")
            }
            positions = innerSpec.keyPositions(argumentCount: inner.count).map { $0 + 3 }
        }
        guard !positions.isEmpty else { return .error("ERR The command has no key arguments") }
        return .array(positions.map { .bulkString(ByteBuffer(bytes: full[$0])) })
    }
}
