/// A node's client address, `host:port`, as written in `cluster.membership`. It is also the
/// node's identity in the shard map: a node is the address it serves on, as written. The host
/// is an IPv4 address, an IPv6 address (in brackets in text: `[::1]:7001`) or a DNS name; a
/// name stays a name here and is resolved (getaddrinfo) each time someone connects to it.
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

    /// Parses `host:port` (IPv6 hosts in brackets: `[::1]:7001`). The host is an IPv4 address,
    /// a bracketed IPv6 address or a DNS name (letters, digits, `-`, `.`, `_`).
    public init(parsing text: String) throws(NodeAddressError) {
        let invalid = NodeAddressError(text: text)
        guard let colon = text.lastIndex(of: ":") else { throw invalid }
        var host = Substring(text[..<colon])
        let portText = text[text.index(after: colon)...]
        if host.hasPrefix("["), host.hasSuffix("]") {
            host = host.dropFirst().dropLast()
            guard Self.isIPv6Text(host) else { throw invalid }
        } else {
            // An IPv6 host must be bracketed, or the port would be ambiguous.
            guard Self.isHostNameText(host) else { throw invalid }
        }
        guard let port = Self.port(portText) else { throw invalid }
        self.host = String(host)
        self.port = port
    }

    /// Parses the address of a Redis redirect (`-MOVED slot host:port`), where Redis writes an
    /// IPv6 host bare (`::1:7001`, the port after the last colon) and some servers bracket it.
    public init(parsingEndpoint text: String) throws(NodeAddressError) {
        if text.hasPrefix("[") {
            self = try NodeAddress(parsing: text)
            return
        }
        let invalid = NodeAddressError(text: text)
        guard let colon = text.lastIndex(of: ":") else { throw invalid }
        let host = text[..<colon]
        guard host.contains(":") ? Self.isIPv6Text(host) : Self.isHostNameText(host),
              let port = Self.port(text[text.index(after: colon)...])
        else { throw invalid }
        self.host = String(host)
        self.port = port
    }

    /// `host:port` with the host bare even when it is IPv6 (`::1:7001`): the form Redis writes
    /// in `-MOVED`/`-ASK` replies and `CLUSTER NODES`, which clients split at the last colon.
    public var endpoint: String { "\(host):\(port)" }

    /// Whether the host is an IPv6 address (an IPv4 address or a name has no colon).
    public var isIPv6: Bool { host.contains(":") }

    /// Whether the host is a DNS name rather than an IP address (IPv4: four decimal numbers).
    public var isHostName: Bool {
        guard !isIPv6 else { return false }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return !(parts.count == 4 && parts.allSatisfy { !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isNumber) && Int($0)! <= 255 })
    }

    private static func port(_ text: Substring) -> UInt16? {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = UInt16(text), port != 0 else { return nil }
        return port
    }

    /// A host alone, as a `bind` setting gives it: an IPv4 address, an IPv6 address (bare or in
    /// brackets) or a DNS name; the host without brackets, or nil when it is none of these
    /// (`host:port` included: the port is not part of it).
    public static func parseHost(_ text: String) -> String? {
        var host = Substring(text)
        if host.hasPrefix("["), host.hasSuffix("]") {
            host = host.dropFirst().dropLast()
            return isIPv6Text(host) ? String(host) : nil
        }
        return (host.contains(":") ? isIPv6Text(host) : isHostNameText(host)) ? String(host) : nil
    }

    /// An IPv4 address or a DNS name: ASCII letters, digits, `-`, `.` and `_`, not starting
    /// with `-` or `.`, at most 253 characters. (Whether it resolves is known only at connect time.)
    static func isHostNameText(_ text: Substring) -> Bool {
        guard let first = text.first, first != "-", first != ".", text.utf8.count <= 253 else { return false }
        return text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_") }
    }

    /// The text of an IPv6 address: hex digits, `:` and `.` (an embedded IPv4 address), with at
    /// least two colons, optionally followed by a `%zone`.
    static func isIPv6Text(_ text: Substring) -> Bool {
        let parts = text.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false)
        let address = parts[0]
        if parts.count == 2 {
            let zone = parts[1]
            guard !zone.isEmpty, zone.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }) else { return false }
        }
        return address.filter { $0 == ":" }.count >= 2 && address.count <= 45
            && address.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
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
        "\"\(text)\" is not host:port (host: an IPv4 address, an IPv6 address in brackets as in [::1]:7001, or a DNS name; port: 1-65535)"
    }
}
