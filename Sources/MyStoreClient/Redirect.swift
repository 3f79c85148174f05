import ShardRouter

/// A Redis Cluster redirect error: `MOVED <slot> <host:port>` (the slot lives there now:
/// update the map) or `ASK <slot> <host:port>` (this one request goes there, after `ASKING`).
/// The host may be a name or an IPv6 address, which Redis writes bare (`MOVED 3999 ::1:7001`).
public enum Redirect: Hashable, Sendable {
    case moved(Slot, NodeAddress)
    case ask(Slot, NodeAddress)

    /// The redirect an error reply's message carries, nil for any other error.
    public init?(errorMessage: String) {
        let words = errorMessage.split(separator: " ")
        guard words.count == 3, let number = Int(words[1]), let slot = Slot(rawValue: number),
              let node = try? NodeAddress(parsingEndpoint: String(words[2]))
        else { return nil }
        switch words[0] {
        case "MOVED": self = .moved(slot, node)
        case "ASK": self = .ask(slot, node)
        default: return nil
        }
    }

    /// Where the request goes next.
    public var node: NodeAddress {
        switch self {
        case .moved(_, let node), .ask(_, let node): node
        }
    }
}
