using System;
using System.Threading;
using System.Threading.Tasks;

namespace ChatApp.Client
{
    /// <summary>Runs actions one at a time, in the order posted, on the thread pool.</summary>
    internal sealed class EventPump
    {
        private readonly object gate = new object();
        private readonly Action<Exception> onError;
        private Task tail = Task.FromResult(true);

        public EventPump(Action<Exception> onError)
        {
            this.onError = onError;
        }

        public void Post(Action a)
        {
            lock (gate)
            {
                tail = tail.ContinueWith(_ => Run(a), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            }
        }

        private void Run(Action a)
        {
            try
            {
                a();
            }
            catch (Exception e)
            {
                onError(e);
            }
        }
    }
}
