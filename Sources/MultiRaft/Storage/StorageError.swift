/// A storage failure, naming the file and what an operator can do about it.
public struct StorageError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var offset: Int?
    public var reason: String
    public var remedy: String?

    public init(path: String, offset: Int? = nil, reason: String, remedy: String? = nil) {
        self.path = path
        self.offset = offset
        self.reason = reason
        self.remedy = remedy
    }

    public var description: String {
        var s = "\(path)"
        if let o = offset { s += " at byte offset \(o)" }
        s += ": \(reason)"
        if let r = remedy { s += ". \(r)" }
        return s
    }
}
