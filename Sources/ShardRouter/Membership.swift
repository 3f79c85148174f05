/// The nodes of a cluster, in the order `cluster.membership` lists them. The order matters:
/// initial shard placement is a deterministic function of it.
///
/// File format: one `host:port` per line; blank lines and lines starting with `#` are ignored;
/// surrounding whitespace is trimmed. This type only parses text (no file I/O), so the server
/// and the admin CLI read the file themselves and share these rules.
public struct Membership: Hashable, Sendable {
    /// The nodes, in file order, without duplicates; never empty.
    public let nodes: [NodeAddress]

    /// A membership from a node list; errors when it is empty or has duplicates.
    public init(nodes: [NodeAddress], source: String = "cluster.membership") throws(MembershipError) {
        guard !nodes.isEmpty else {
            throw MembershipError(location: source, message: "no nodes listed (expected one host:port per line)")
        }
        var seen = Set<NodeAddress>()
        for node in nodes where !seen.insert(node).inserted {
            throw MembershipError(location: source, message: "\(node) is listed more than once")
        }
        self.nodes = nodes
    }

    /// Parses the text of a membership file. `source` names the file in error messages.
    public init(parsing text: String, source: String = "cluster.membership") throws(MembershipError) {
        var nodes: [NodeAddress] = []
        var firstLine: [NodeAddress: Int] = [:]
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let lineNumber = index + 1
            let line = rawLine.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            let node: NodeAddress
            do {
                node = try NodeAddress(parsing: String(line))
            } catch {
                throw MembershipError(location: "\(source):\(lineNumber)", message: error.description)
            }
            if let earlier = firstLine[node] {
                throw MembershipError(
                    location: "\(source):\(lineNumber)",
                    message: "\(node) is already listed on line \(earlier); each node must appear once"
                )
            }
            firstLine[node] = lineNumber
            nodes.append(node)
        }
        try self.init(nodes: nodes, source: source)
    }

    /// Number of nodes.
    public var count: Int { nodes.count }

    /// Whether `node` is a member.
    public func contains(_ node: NodeAddress) -> Bool { nodes.contains(node) }
}

/// Why a membership could not be read: where (`file` or `file:line`) and what to fix.
public struct MembershipError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `file` or `file:line`.
    public let location: String
    /// What is wrong, in words a user can act on.
    public let message: String

    public var description: String { "\(location): \(message)" }
}

extension Substring {
    /// The substring without leading and trailing whitespace (including `\r`).
    func trimmingWhitespace() -> Substring {
        guard let start = firstIndex(where: { !$0.isWhitespace }),
              let end = lastIndex(where: { !$0.isWhitespace })
        else { return self[endIndex...] }
        return self[start...end]
    }
}
