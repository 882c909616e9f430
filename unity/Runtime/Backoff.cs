using System;

namespace ChatApp.Client
{
    /// <summary>
    /// Exponential backoff with full jitter (docs/protocol.md, "Client
    /// algorithm"): attempt n (from 1) waits a random time in
    /// [0, min(Cap, Base * 2^n)], so that clients dropped together (a
    /// server restart) do not all come back in the same instant.
    /// </summary>
    public sealed class Backoff
    {
        private static readonly Random Seeds = new Random();
        private readonly Random random;

        /// <summary>Creates a backoff of base (0.5 s in the protocol) and cap (10 s).</summary>
        public Backoff(TimeSpan @base, TimeSpan cap)
        {
            if (@base < TimeSpan.Zero || cap < @base)
            {
                throw new ArgumentOutOfRangeException("base", "want 0 <= base <= cap");
            }
            Base = @base;
            Cap = cap;
            lock (Seeds)
            {
                random = new Random(Seeds.Next());
            }
        }

        /// <summary>The base: attempt 1 waits up to twice it.</summary>
        public TimeSpan Base { get; private set; }
        /// <summary>The longest delay.</summary>
        public TimeSpan Cap { get; private set; }

        /// <summary>The longest delay before attempt: min(Cap, Base * 2^attempt), attempt from 1.</summary>
        public TimeSpan Ceiling(int attempt)
        {
            if (attempt < 1)
            {
                attempt = 1;
            }
            double ms = Base.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 40));
            return TimeSpan.FromMilliseconds(Math.Min(ms, Cap.TotalMilliseconds));
        }

        /// <summary>The delay before attempt (1 for the first): random in [0, <see cref="Ceiling"/>].</summary>
        public TimeSpan Delay(int attempt)
        {
            double r;
            lock (random)
            {
                r = random.NextDouble();
            }
            return TimeSpan.FromMilliseconds(Ceiling(attempt).TotalMilliseconds * r);
        }
    }
}
