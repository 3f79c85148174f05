/// A sorted set kept as an array of sorted chunks of bounded size: O(log n) search, insertion
/// and removal that move at most one chunk, in-order iteration. Holds the key order for SCAN
/// and the expiry order for purging.
struct SortedIndex<Element: Comparable>: Sequence {
    /// Chunks are split above this many elements (elements).
    static var maxChunk: Int { 512 }

    /// Non-empty, sorted chunks; every element of a chunk is below every element of the next.
    private(set) var chunks: [[Element]] = []
    private(set) var count = 0

    init() {}

    var isEmpty: Bool { count == 0 }
    var first: Element? { chunks.first?.first }

    /// The chunk that holds `element` or where it belongs: the first whose last element is
    /// >= `element`, or the last chunk.
    private func chunkIndex(for element: Element) -> Int {
        var lo = 0, hi = chunks.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if chunks[mid][chunks[mid].count - 1] < element { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// First position in `chunk` whose element is >= `element` (or > when `strictly`).
    private static func position(of element: Element, in chunk: [Element], strictly: Bool = false) -> Int {
        var lo = 0, hi = chunk.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if chunk[mid] < element || (strictly && !(element < chunk[mid])) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    func contains(_ element: Element) -> Bool {
        guard !chunks.isEmpty else { return false }
        let chunk = chunks[chunkIndex(for: element)]
        let at = Self.position(of: element, in: chunk)
        return at < chunk.count && chunk[at] == element
    }

    /// Inserts `element`; returns false if it was already present.
    @discardableResult
    mutating func insert(_ element: Element) -> Bool {
        guard !chunks.isEmpty else {
            chunks = [[element]]
            count = 1
            return true
        }
        let c = chunkIndex(for: element)
        let at = Self.position(of: element, in: chunks[c])
        if at < chunks[c].count && chunks[c][at] == element { return false }
        chunks[c].insert(element, at: at)
        count += 1
        if chunks[c].count > Self.maxChunk {
            let upper = Array(chunks[c][(Self.maxChunk / 2)...])
            chunks[c].removeLast(upper.count)
            chunks.insert(upper, at: c + 1)
        }
        return true
    }

    /// Removes `element`; returns false if it was absent.
    @discardableResult
    mutating func remove(_ element: Element) -> Bool {
        guard !chunks.isEmpty else { return false }
        let c = chunkIndex(for: element)
        let at = Self.position(of: element, in: chunks[c])
        guard at < chunks[c].count && chunks[c][at] == element else { return false }
        chunks[c].remove(at: at)
        count -= 1
        if chunks[c].isEmpty {
            chunks.remove(at: c)
        } else if chunks[c].count < Self.maxChunk / 4 {
            // Merge a sparse chunk into a neighbour so many deletions cannot leave a long list
            // of tiny chunks.
            if c + 1 < chunks.count, chunks[c].count + chunks[c + 1].count <= Self.maxChunk {
                chunks[c].append(contentsOf: chunks[c + 1])
                chunks.remove(at: c + 1)
            } else if c > 0, chunks[c - 1].count + chunks[c].count <= Self.maxChunk {
                chunks[c - 1].append(contentsOf: chunks[c])
                chunks.remove(at: c)
            }
        }
        return true
    }

    /// Removes and returns the smallest element.
    mutating func removeFirst() -> Element? {
        guard let e = first else { return nil }
        remove(e)
        return e
    }

    /// Calls `body` on the elements above `lowerBound` (all when nil) in order, while it returns true.
    func forEach(after lowerBound: Element?, _ body: (Element) -> Bool) {
        guard !chunks.isEmpty else { return }
        var c = 0, at = 0
        if let lowerBound {
            c = chunkIndex(for: lowerBound)
            at = Self.position(of: lowerBound, in: chunks[c], strictly: true)
        }
        while c < chunks.count {
            let chunk = chunks[c]
            while at < chunk.count {
                if !body(chunk[at]) { return }
                at += 1
            }
            c += 1
            at = 0
        }
    }

    /// How many of the smallest elements satisfy `predicate`, which must hold for a prefix of
    /// the order and fail for the rest. Costs O(chunks), not O(count).
    func prefixCount(while predicate: (Element) -> Bool) -> Int {
        var n = 0
        for chunk in chunks {
            if predicate(chunk[chunk.count - 1]) {
                n += chunk.count
                continue
            }
            var lo = 0, hi = chunk.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if predicate(chunk[mid]) { lo = mid + 1 } else { hi = mid }
            }
            return n + lo
        }
        return n
    }

    func makeIterator() -> FlattenSequence<[[Element]]>.Iterator {
        chunks.joined().makeIterator()
    }
}
