import Testing
import SluiceDemo

/// The demo's plot as a value: observations in, lines and the moment to break the candidate out.
@Suite struct DemoStoryTests {
    static func see(_ elapsed: Double, _ state: String, _ weight: Double, _ reason: String? = nil) -> DemoStory.Observation {
        DemoStory.Observation(elapsed: elapsed, state: state, candidateWeight: weight, reason: reason)
    }

    @Test func stepsThenBreaksTheCandidateThenTellsTheRollback() {
        var story = DemoStory(failAtWeight: 50, holdSeconds: 6)
        let opening = story.observe(Self.see(0.2, "progressing", 10))
        #expect(opening == [.say("The candidate starts at 10% (a 90/10 split) and climbs while its error rate stays low.")])
        #expect(story.phase == .stepping)
        #expect(story.observe(Self.see(12, "progressing", 25)).isEmpty)
        let reached = story.observe(Self.see(24, "progressing", 50))
        #expect(reached.count == 1)
        #expect(story.reachedAt == 24)
        #expect(story.observe(Self.see(29.9, "progressing", 50)).isEmpty, "breaks only after holding 6 s")
        #expect(story.observe(Self.see(30, "progressing", 50)) == [.breakCandidate])
        #expect(story.phase == .failing)
        #expect(story.observe(Self.see(32, "progressing", 50)).isEmpty)
        let end = story.observe(Self.see(34.5, "rolled_back", 0, "error rate 0.145 > 0.05 in 3 consecutive evaluations"))
        #expect(end == [
            .say("Sluice rolled the candidate back on its own 4.5 s after it started failing. Reason: error rate 0.145 > 0.05 in 3 consecutive evaluations"),
            .finished,
        ])
        #expect(story.phase == .over)
        #expect(story.observe(Self.see(40, "rolled_back", 0)).isEmpty)
    }

    @Test func anEarlyRollbackEndsTheStoryWithoutBreakingAnything() {
        var story = DemoStory(holdSeconds: 6)
        _ = story.observe(Self.see(0, "progressing", 10))
        let end = story.observe(Self.see(3, "rolled_back", 0, "operator rollback via admin API"))
        #expect(end == [.say("Rolled back before the candidate was broken: operator rollback via admin API"), .finished])
        #expect(story.brokenAt == nil)
    }
}
