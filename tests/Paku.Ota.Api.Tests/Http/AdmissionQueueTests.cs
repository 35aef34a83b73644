using Paku.Ota.Api.Http;

namespace Paku.Ota.Api.Tests.Http;

/// <summary>The admission queue's decisions with time as a parameter: a burst waits up to the burst limit and
/// is served oldest first; a queue that stands longer than that counts as overload, where a call waits at most
/// the overload limit and the newest is served first; turns are never lost or doubled.</summary>
public sealed class AdmissionQueueTests
{
    private const int Burst = 200;
    private const int Overload = 10;

    [Test]
    public void Calls_below_the_ceiling_are_admitted_at_once_and_a_full_queue_sheds_on_arrival()
    {
        var queue = new AdmissionQueue(maxConcurrent: 2, queueLimit: 1, Burst, Overload);

        Assert.That(queue.Arrive(0, out var first), Is.EqualTo(AdmissionVerdict.Admitted));
        Assert.That(queue.Arrive(0, out _), Is.EqualTo(AdmissionVerdict.Admitted));
        Assert.That(first, Is.Null, "admitted at once: nothing to wait on");
        Assert.That(queue.Arrive(1, out var waiting), Is.EqualTo(AdmissionVerdict.Queued));
        Assert.That(queue.Arrive(2, out var refused), Is.EqualTo(AdmissionVerdict.QueueFull));
        Assert.That(refused, Is.Null);
        Assert.That((queue.InProgress, queue.Queued), Is.EqualTo((2, 1)));

        queue.Leave(3);

        Assert.That(waiting!.Verdict.Result, Is.EqualTo(AdmissionVerdict.Admitted), "the turn passes to the waiting call");
        Assert.That((queue.InProgress, queue.Queued), Is.EqualTo((2, 0)));
        queue.Leave(4);
        queue.Leave(4);
        Assert.That(queue.InProgress, Is.Zero);
        Assert.That(queue.Arrive(5, out _), Is.EqualTo(AdmissionVerdict.Admitted));
    }

    [Test]
    public void A_burst_is_served_oldest_first_and_waits_until_the_queue_has_stood_past_the_burst_limit()
    {
        var queue = new AdmissionQueue(maxConcurrent: 1, queueLimit: 10, Burst, Overload);
        queue.Arrive(0, out _);
        queue.Arrive(10, out var older);
        queue.Arrive(20, out var newer);

        queue.Leave(50);

        Assert.That(older!.Verdict.Result, Is.EqualTo(AdmissionVerdict.Admitted), "oldest first while the queue is young");
        Assert.That(newer!.IsDone, Is.False);
        Assert.That(queue.Expire(10 + Burst), Is.True, "the queue has stood (since 10) exactly the burst limit: the call still waits");
        Assert.That(newer.IsDone, Is.False);
        Assert.That(queue.Expire(11 + Burst), Is.False);
        Assert.That(newer.Verdict.Result, Is.EqualTo(AdmissionVerdict.Waited), "overloaded, and waited past the overload limit: shed");
        Assert.That(queue.InProgress, Is.EqualTo(1), "shedding a waiter takes no turn");
    }

    [Test]
    public void A_queue_that_stands_past_the_burst_limit_is_overload_newest_first_and_short_waits()
    {
        var queue = new AdmissionQueue(maxConcurrent: 1, queueLimit: 100, Burst, Overload);
        queue.Arrive(0, out _);
        var waiters = new List<AdmissionQueue.Waiter>();

        // a call every 5 ms and a turn every 10 ms: the queue never empties
        for (var now = 5L; now <= Burst; now += 5)
        {
            queue.Arrive(now, out var w);
            waiters.Add(w!);
            if (now % 10 == 0)
            {
                queue.Leave(now);
            }
        }

        Assert.That(queue.IsOverloaded(Burst), Is.False, "the queue has stood since 5: not yet past the burst limit");
        Assert.That(queue.IsOverloaded(Burst + 6), Is.True);

        queue.Arrive(Burst + 6, out var newest);
        Assert.That(waiters.Where(w => w.IsDone && w.Verdict.Result != AdmissionVerdict.Admitted)
                .Select(w => w.Verdict.Result).Distinct(), Is.EqualTo(new[] { AdmissionVerdict.Waited }),
            "once overloaded, everything that waited past the overload limit is shed");
        Assert.That(waiters.Where(w => !w.IsDone).Select(w => w.Since), Is.All.GreaterThanOrEqualTo(Burst + 6 - Overload));

        queue.Leave(Burst + 7);

        Assert.That(newest!.Verdict.Result, Is.EqualTo(AdmissionVerdict.Admitted), "newest first when overloaded");
    }

    [Test]
    public void Overload_ends_when_the_queue_empties_and_waits_are_long_again()
    {
        var queue = new AdmissionQueue(maxConcurrent: 1, queueLimit: 100, Burst, Overload);
        queue.Arrive(0, out _);
        queue.Arrive(1, out var stale);
        Assert.That(queue.Expire(Burst + 2), Is.False, "the queue stood past the burst limit, and its one call waited past the overload limit");
        Assert.That(stale!.Verdict.Result, Is.EqualTo(AdmissionVerdict.Waited));
        Assert.That(queue.IsOverloaded(Burst + 2), Is.False, "the queue emptied");

        queue.Arrive(Burst + 3, out var waiter);
        Assert.That(queue.Expire(Burst + 3 + 50), Is.True, "a fresh queue allows the burst limit again, not the overload limit");
        queue.Leave(Burst + 3 + 60);
        Assert.That(waiter!.Verdict.Result, Is.EqualTo(AdmissionVerdict.Admitted));
    }

    [Test]
    public void An_abandoned_waiter_gives_its_turn_to_the_next_and_a_turn_with_nobody_waiting_is_returned()
    {
        var queue = new AdmissionQueue(maxConcurrent: 1, queueLimit: 10, Burst, Overload);
        queue.Arrive(0, out _);
        queue.Arrive(1, out var gone);
        queue.Arrive(2, out var next);

        gone!.Abandon();
        Assert.That(gone.Verdict.Result, Is.EqualTo(AdmissionVerdict.Abandoned));
        queue.Leave(3);
        Assert.That(next!.Verdict.Result, Is.EqualTo(AdmissionVerdict.Admitted), "the turn skips the abandoned call");

        next.Abandon(); // too late: the turn was given, and its call must leave to return it
        Assert.That(next.Verdict.Result, Is.EqualTo(AdmissionVerdict.Admitted));
        queue.Leave(4);
        Assert.That((queue.InProgress, queue.Queued), Is.EqualTo((0, 0)));
    }

    [Test]
    public void Turns_are_never_lost_or_doubled_under_concurrent_callers()
    {
        const int ceiling = 4;
        var queue = new AdmissionQueue(ceiling, queueLimit: 64, burstWaitMilliseconds: 5, overloadWaitMilliseconds: 1);
        var clock = 0L;
        var inside = 0;
        var most = 0;
        var admitted = 0;

        Parallel.For(0, 20_000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var verdict = queue.Arrive(Interlocked.Increment(ref clock), out var waiter);
            if (waiter is not null)
            {
                if (i % 7 == 0)
                {
                    waiter.Abandon();
                }

                while (!waiter.IsDone)
                {
                    queue.Expire(Interlocked.Increment(ref clock));
                    Thread.Yield();
                }

                verdict = waiter.Verdict.Result;
            }

            if (verdict != AdmissionVerdict.Admitted)
            {
                return;
            }

            var now = Interlocked.Increment(ref inside);
            InterlockedMax(ref most, now);
            Interlocked.Increment(ref admitted);
            Thread.SpinWait(50);
            Interlocked.Decrement(ref inside);
            queue.Leave(Interlocked.Increment(ref clock));
        });
        queue.Expire(clock + 1); // the places of calls abandoned last are passed

        Assert.That(most, Is.LessThanOrEqualTo(ceiling), "never more calls inside than the ceiling");
        Assert.That(admitted, Is.GreaterThan(0));
        Assert.That((queue.InProgress, queue.Queued), Is.EqualTo((0, 0)), "every turn returned, nobody left waiting");
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}
