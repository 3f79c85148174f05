/// A node's client address, `host:port`, as written in `cluster.membership`. It is also the
/// node's identity in the shard map: a node is the address it serves on.
public struct NodeAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Host name or IP address, without brackets for IPv6.
    public let host: String
    /// TCP port, 1-65535.
    public let port: UInt16

    /// An address from its parts. `host` must be non-empty and `port` non-zero.
    public init?(host: String, port: UInt16) {
        guard !host.isEmpty, port != 0 else { return nil }
        self.host = host
        self.port = port
    }

    /// Parses `host:port` (IPv6 hosts in brackets: `[::1]:7001`).
    public init(parsing text: String) throws(NodeAddressError) {
        let invalid = NodeAddressError(text: text)
        guard let colon = text.lastIndex(of: ":") else { throw invalid }
        var host = Substring(text[..<colon])
        let portText = text[text.index(after: colon)...]
        if host.hasPrefix("["), host.hasSuffix("]") {
            host = host.dropFirst().dropLast()
        } else if host.contains(":") {
            throw invalid  // an IPv6 host must be bracketed, or the port would be ambiguous
        }
        guard !host.isEmpty,
              !host.contains(where: { $0.isWhitespace || $0 == "[" || $0 == "]" }),
              !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              portText.count <= 5, let port = UInt16(portText), port != 0
        else { throw invalid }
        self.host = String(host)
        self.port = port
    }

    /// `host:port`, with IPv6 hosts in brackets.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// A file-name-safe form, `host_port` (used for per-node data directories).
    public var pathComponent: String {
        "\(host)_\(port)".map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-" ? $0 : "_" }
            .reduce(into: "") { $0.append($1) }
    }

    public static func < (lhs: NodeAddress, rhs: NodeAddress) -> Bool {
        (lhs.host, lhs.port) < (rhs.host, rhs.port)
    }
}

/// Text that is not a valid `host:port`.
public struct NodeAddressError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The offending text.
    public let text: String

    public var description: String {
        "\"\(text)\" is not host:port (port must be 1-65535)"
    }
}
