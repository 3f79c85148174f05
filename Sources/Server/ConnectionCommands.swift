import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// The commands a node answers on its own, without the cluster: connection handshake and
/// introspection (PING, ECHO, HELLO, SELECT, CLIENT, COMMAND, INFO, QUIT). Every other
/// command is answered with Redis's unknown-command error until data commands are routed
/// to the shards' Raft groups.
///
/// Pure: a command and the session in, a reply out; the channel handler does the I/O.
enum ConnectionCommands {
    /// The reply to `command`, updating `session` (name, closing).
    static func reply(to command: RESPCommand, session: inout ClientSession, identity: ServerIdentity, uptimeSeconds: Int64) -> RESPValue {
        let arguments = command.arguments
        switch command.name {
        case "PING":
            switch arguments.count {
            case 0: return .simpleString("PONG")
            case 1: return .bulkString(arguments.first!)
            default: return wrongArity(command)
            }
        case "ECHO":
            guard arguments.count == 1 else { return wrongArity(command) }
            return .bulkString(arguments.first!)
        case "QUIT":
            session.isClosing = true
            return .ok
        case "SELECT":
            guard arguments.count == 1 else { return wrongArity(command) }
            guard let index = command.argumentText(0).flatMap({ Int($0) }) else {
                return .error("ERR value is not an integer or out of range")
            }
            return index == 0 ? .ok : .error("ERR DB index is out of range (MyStore has only database 0)")
        case "TIME":
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            return .array([.bulk("\(now.tv_sec)"), .bulk("\(now.tv_nsec / 1_000)")])
        case "MULTI", "DISCARD", "UNWATCH":
            return TransactionCommands.reply(to: command.name, session: &session) ?? unknownCommand(command)
        case "EXEC":
            // The connection handler runs EXEC inside MULTI; here only the error remains.
            guard session.transaction != nil else { return .error("ERR EXEC without MULTI") }
            session.transaction = nil
            session.watched = []
            return .error("ERR EXEC needs the cluster's router, which this connection has not")
        case "FUNCTION":
            return function(command)
        case "COMMAND":
            return CommandIntrospection.reply(command)
        case "CLIENT":
            return client(command, session: &session)
        case "HELLO":
            return hello(command, session: &session, identity: identity)
        case "INFO":
            let sections = InfoSections.requested(arguments.map { String(buffer: $0) })
            return .verbatim(InfoSections(identity: identity, maxClients: identity.maxClients).text(sections))
        default:
            return unknownCommand(command)
        }
    }

    /// Redis's reply to a command it does not know, word for word, so client libraries that
    /// match on it behave the same: the name and up to about 128 bytes of arguments.
    static func unknownCommand(_ command: RESPCommand) -> RESPValue {
        let name = String(String(decoding: command.parts[0].readableBytesView, as: UTF8.self).prefix(128))
        var shown = ""
        for argument in command.arguments {
            guard shown.utf8.count < 128 else { break }
            let text = String(decoding: argument.readableBytesView, as: UTF8.self)
            shown += "'\(String(text.prefix(128 - shown.utf8.count)))' "
        }
        return .error("ERR unknown command '\(name)', with args beginning with: \(shown)")
    }

    /// FUNCTION: MyStore runs no functions or scripts, so its library is always empty: FLUSH
    /// leaves it empty, LIST shows it empty, anything that would add or run one is refused.
    private static func function(_ command: RESPCommand) -> RESPValue {
        switch command.argumentText(0)?.uppercased() {
        case "FLUSH":
            guard command.arguments.count <= 2 else { return wrongArity(command) }
            if let mode = command.argumentText(1)?.uppercased(), mode != "SYNC" && mode != "ASYNC" {
                return .error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
            }
            return .ok
        case "LIST":
            return .array([])
        case let sub?:
            return .error("ERR FUNCTION \(sub) is not supported: MyStore runs no functions or scripts")
        case nil:
            return wrongArity(command)
        }
    }

    static func wrongArity(_ command: RESPCommand) -> RESPValue {
        .error("ERR wrong number of arguments for '\(command.name.lowercased())' command")
    }


    private static func client(_ command: RESPCommand, session: inout ClientSession) -> RESPValue {
        switch command.argumentText(0)?.uppercased() {
        case "ID":
            return .integer(session.id)
        case "SETNAME":
            guard command.arguments.count == 2, let name = command.argumentText(1) else { return wrongArity(command) }
            guard !name.contains(where: { $0 == " " || $0.isNewline }) else {
                return .error("ERR Client names cannot contain spaces, newlines or special characters.")
            }
            session.name = name
            return .ok
        case "GETNAME":
            return session.name.isEmpty ? .null : .bulk(session.name)
        case "SETINFO":
            return .ok  // library name and version: accepted, not kept
        case nil:
            return wrongArity(command)
        case let other?:
            return .error("ERR unknown subcommand '\(other)'. Try CLIENT HELP.")
        }
    }

    private static func hello(_ command: RESPCommand, session: inout ClientSession, identity: ServerIdentity) -> RESPValue {
        var index = 0
        var version = session.protocolVersion
        if let text = command.argumentText(0) {
            guard let number = Int(text) else {
                return .error("ERR Protocol version is not an integer or out of range")
            }
            guard let requested = RESPProtocol(rawValue: number) else {
                return .error("NOPROTO unsupported protocol version")
            }
            version = requested
            index = 1
        }
        while let option = command.argumentText(index)?.uppercased() {
            switch option {
            case "SETNAME":
                guard let name = command.argumentText(index + 1) else { return .error("ERR Syntax error in HELLO option 'SETNAME'") }
                session.name = name
                index += 2
            case "AUTH":
                return .error("ERR AUTH is not supported: MyStore has no users or passwords")
            default:
                return .error("ERR Syntax error in HELLO option '\(option.lowercased())'")
            }
        }
        // Options are checked before the protocol changes: a failed HELLO changes nothing.
        session.protocolVersion = version
        // A map: in RESP3 `%7`, in RESP2 a flat array of alternating field names and values.
        return .map([
            .bulk("server"), .bulk("mystore"),
            .bulk("version"), .bulk(ServerIdentity.version),
            .bulk("proto"), .integer(Int64(version.rawValue)),
            .bulk("id"), .integer(session.id),
            .bulk("mode"), .bulk("cluster"),
            .bulk("role"), .bulk("master"),
            .bulk("modules"), .array([]),
        ])
    }

}
