using System;

namespace ChatApp.Client
{
    /// <summary>
    /// Exponential backoff with jitter: attempt n waits
    /// min(Max, Initial * 2^(n-1)), less a random part of up to
    /// <see cref="Jitter"/> of it, so that clients dropped together (a
    /// server restart) do not all come back in the same instant.
    /// </summary>
    public sealed class Backoff
    {
        private static readonly Random Seeds = new Random();
        private readonly Random random;

        /// <summary>Creates a backoff; jitter is the random fraction taken off each delay, 0 to 1.</summary>
        public Backoff(TimeSpan initial, TimeSpan max, double jitter = 0.5)
        {
            if (initial < TimeSpan.Zero || max < initial)
            {
                throw new ArgumentOutOfRangeException("initial", "want 0 <= initial <= max");
            }
            if (jitter < 0 || jitter > 1)
            {
                throw new ArgumentOutOfRangeException("jitter", "want 0 <= jitter <= 1");
            }
            Initial = initial;
            Max = max;
            Jitter = jitter;
            lock (Seeds)
            {
                random = new Random(Seeds.Next());
            }
        }

        /// <summary>The delay before the first retry, before jitter.</summary>
        public TimeSpan Initial { get; private set; }
        /// <summary>The largest delay.</summary>
        public TimeSpan Max { get; private set; }
        /// <summary>The random fraction taken off each delay.</summary>
        public double Jitter { get; private set; }

        /// <summary>The delay before attempt (1 for the first retry).</summary>
        public TimeSpan Delay(int attempt)
        {
            if (attempt < 1)
            {
                attempt = 1;
            }
            double ms = Initial.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 30));
            ms = Math.Min(ms, Max.TotalMilliseconds);
            double r;
            lock (random)
            {
                r = random.NextDouble();
            }
            return TimeSpan.FromMilliseconds(ms * (1 - Jitter * r));
        }
    }
}
