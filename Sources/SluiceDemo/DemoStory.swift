/// The plot of `sluice demo`: a 90/10 split, a progressive rollout stepping up, the candidate starting
/// to fail once it carries half the traffic, and Sluice's automatic rollback. A pure value: it reads
/// what `/stats` showed at a time and says what to print and when to break the candidate; the demo's
/// narrator thread does the I/O.
public struct DemoStory: Sendable, Equatable {
    /// Where the story is.
    public enum Phase: String, Sendable, Equatable {
        /// Not started (no observation yet).
        case waiting
        /// The split and its progressive steps, the candidate healthy.
        case stepping
        /// The candidate was told to fail; waiting for the rollback.
        case failing
        /// Sluice rolled the candidate back; the story is told.
        case over
    }

    /// What `/stats` showed about the demo route.
    public struct Observation: Sendable, Equatable {
        /// Seconds since the story started.
        public var elapsed: Double
        /// Route state (`progressing`, `rolled_back`, ...).
        public var state: String
        /// The candidate's weight, percent.
        public var candidateWeight: Double
        /// The route's reason (the rollback reason once rolled back).
        public var reason: String?

        public init(elapsed: Double, state: String, candidateWeight: Double, reason: String?) {
            self.elapsed = elapsed
            self.state = state
            self.candidateWeight = candidateWeight
            self.reason = reason
        }
    }

    /// What the narrator does.
    public enum Action: Sendable, Equatable {
        /// Print this line.
        case say(String)
        /// Make the candidate model server fail.
        case breakCandidate
        /// The story is over.
        case finished
    }

    /// Weight (percent) at which the candidate starts failing, after `holdSeconds` there.
    public let failAtWeight: Double
    /// Seconds the candidate serves healthily at `failAtWeight` before it fails.
    public let holdSeconds: Double
    /// Current phase.
    public private(set) var phase: Phase = .waiting
    /// When the candidate first reached `failAtWeight`.
    public private(set) var reachedAt: Double?
    /// When the candidate was broken.
    public private(set) var brokenAt: Double?

    public init(failAtWeight: Double = 50, holdSeconds: Double) {
        self.failAtWeight = failAtWeight
        self.holdSeconds = holdSeconds
    }

    /// Advances with one observation; returns what to do, in order.
    public mutating func observe(_ o: Observation) -> [Action] {
        switch phase {
        case .waiting:
            phase = .stepping
            return [.say("The candidate starts at \(NumberFormat.compact(o.candidateWeight))% (a \(NumberFormat.compact(100 - o.candidateWeight))/\(NumberFormat.compact(o.candidateWeight)) split) and climbs while its error rate stays low.")]
        case .stepping:
            if o.state == "rolled_back" {
                phase = .over
                return [.say("Rolled back before the candidate was broken: \(o.reason ?? "no reason given")"), .finished]
            }
            guard o.candidateWeight >= failAtWeight else { return [] }
            guard let at = reachedAt else {
                reachedAt = o.elapsed
                return [.say("The candidate now carries \(NumberFormat.compact(o.candidateWeight))% of the traffic; in \(NumberFormat.compact(holdSeconds)) s it starts failing.")]
            }
            guard o.elapsed - at >= holdSeconds else { return [] }
            phase = .failing
            brokenAt = o.elapsed
            return [.breakCandidate]
        case .failing:
            guard o.state == "rolled_back" else { return [] }
            phase = .over
            let took = o.elapsed - (brokenAt ?? o.elapsed)
            return [
                .say("Sluice rolled the candidate back on its own \(NumberFormat.fixed(took, 1)) s after it started failing. Reason: \(o.reason ?? "none given")"),
                .finished,
            ]
        case .over:
            return []
        }
    }
}
