/// A min-heap of timed events; ties break by insertion order, so runs are deterministic.
/// The heap holds only small keys; events (which may carry large messages) sit in a slot
/// array so reordering the heap never copies them.
struct EventQueue<Event> {
    private struct Key {
        var time: Int
        var seq: Int
        var slot: Int
    }

    private var heap: [Key] = []
    private var slots: [Event?] = []
    private var free: [Int] = []
    private var seq = 0

    var isEmpty: Bool { heap.isEmpty }

    mutating func schedule(_ event: Event, at time: Int) {
        seq += 1
        let slot: Int
        if let f = free.popLast() {
            slot = f
            slots[f] = event
        } else {
            slot = slots.count
            slots.append(event)
        }
        heap.append(Key(time: time, seq: seq, slot: slot))
        var i = heap.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if less(heap[i], heap[p]) { heap.swapAt(i, p); i = p } else { break }
        }
    }

    mutating func pop() -> (time: Int, event: Event)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count && less(heap[l], heap[m]) { m = l }
            if r < heap.count && less(heap[r], heap[m]) { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            i = m
        }
        let event = slots[top.slot].take()!
        free.append(top.slot)
        return (top.time, event)
    }

    private func less(_ a: Key, _ b: Key) -> Bool {
        a.time != b.time ? a.time < b.time : a.seq < b.seq
    }
}
