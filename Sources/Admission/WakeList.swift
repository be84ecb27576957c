/// The waiters to wake once the lock is let go: usually none or one, kept without allocating
/// (the admission path runs for every expensive request, on threads whose caches are cold).
struct WakeList {
    private var first: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private var inline = 0
    private var more: [UInt64] = []

    /// Adds a ticket whose waiter was just handed a slot.
    mutating func append(_ ticket: UInt64) {
        switch inline {
        case 0: first.0 = ticket
        case 1: first.1 = ticket
        case 2: first.2 = ticket
        case 3: first.3 = ticket
        default:
            more.append(ticket)
            return
        }
        inline += 1
    }

    /// Calls `body` with each ticket, in the order added.
    func forEachTicket(_ body: (UInt64) -> Void) {
        if inline > 0 { body(first.0) }
        if inline > 1 { body(first.1) }
        if inline > 2 { body(first.2) }
        if inline > 3 { body(first.3) }
        for ticket in more { body(ticket) }
    }

    var isEmpty: Bool { inline == 0 }
}
