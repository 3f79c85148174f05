/// An insertion-ordered set with O(1) append, removal anywhere, and removal of the oldest:
/// the eviction order of client sessions (least recently used first) and of retired keys'
/// histories (longest retired first). Deterministic: its order depends only on the calls made.
struct EvictionQueue<Element: Hashable>: Sequence {
    fileprivate struct Link {
        var previous: Element?
        var next: Element?
    }

    private var links: [Element: Link] = [:]
    private(set) var first: Element?
    private var last: Element?

    init() {}

    var count: Int { links.count }
    var isEmpty: Bool { links.isEmpty }
    func contains(_ element: Element) -> Bool { links[element] != nil }

    /// Puts `element` at the newest end, moving it there if already present.
    mutating func append(_ element: Element) {
        if links[element] != nil {
            if last == element { return }
            remove(element)
        }
        links[element] = Link(previous: last, next: nil)
        if let last { links[last]!.next = element } else { first = element }
        last = element
    }

    /// Removes `element`; returns false if it was absent.
    @discardableResult
    mutating func remove(_ element: Element) -> Bool {
        guard let link = links.removeValue(forKey: element) else { return false }
        if let p = link.previous { links[p]!.next = link.next } else { first = link.next }
        if let n = link.next { links[n]!.previous = link.previous } else { last = link.previous }
        return true
    }

    /// Removes and returns the oldest element.
    mutating func removeFirst() -> Element? {
        guard let e = first else { return nil }
        remove(e)
        return e
    }

    struct Iterator: IteratorProtocol {
        fileprivate let links: [Element: Link]
        fileprivate var cursor: Element?

        mutating func next() -> Element? {
            guard let e = cursor else { return nil }
            cursor = links[e]?.next
            return e
        }
    }

    /// Oldest first.
    func makeIterator() -> Iterator { Iterator(links: links, cursor: first) }
}
