using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using ChatApp.Client;
using UnityEngine;
using UnityEngine.EventSystems;
using UnityEngine.UI;

namespace ChatApp.Client.Samples
{
    /// <summary>
    /// A whole chat in one script: add it to an empty GameObject in an empty
    /// scene, set the server URL, press Play. It builds a uGUI screen at
    /// runtime (messages in a ScrollRect, an InputField and a Send button,
    /// the member list, the connection state) and drives it from a
    /// <see cref="ChatClient"/>.
    /// </summary>
    /// <remarks>
    /// The client raises its events on a thread-pool thread, and Unity
    /// objects may only be touched on the main thread, so every handler
    /// here only queues an action; <see cref="Update"/> runs the queue.
    /// Awaited calls (ConnectAsync, SendAsync, GetMembersAsync) made from
    /// the main thread resume on it (Unity's SynchronizationContext).
    /// </remarks>
    [DisallowMultipleComponent]
    [AddComponentMenu("ChatApp/Chat Sample")]
    public sealed class ChatSample : MonoBehaviour
    {
        [Tooltip("What `chatapp serve` prints, e.g. http://127.0.0.1:8080. For AWS set the two URLs below instead.")]
        public string serverUrl = "http://127.0.0.1:8080";

        [Tooltip("Optional: the REST API's /chat URL (https://{id}.execute-api.{region}.amazonaws.com/{stage}/chat).")]
        public string restUrlOverride = "";

        [Tooltip("Optional: the WebSocket API's URL (wss://{id}.execute-api.{region}.amazonaws.com/{stage}).")]
        public string webSocketUrlOverride = "";

        public string roomId = "lobby";

        [Tooltip("Empty: a random id for this run, or the token's user with a token.")]
        public string userId = "";

        [Tooltip("For a server with auth on: a token (`chatapp token --user U --name N`). The server takes the user and the name from it. Do not commit a real one.")]
        public string token = "";

        public string userName = "Unity";

        [Tooltip("Send over the WebSocket instead of REST.")]
        public bool sendOverWebSocket = false;

        [Tooltip("Messages kept on screen.")]
        public int maxMessages = 200;

        [Tooltip("Optional: the UI font; default: Unity's built-in one.")]
        public Font font;

        private readonly ConcurrentQueue<Action> mainThread = new ConcurrentQueue<Action>();
        private readonly HashSet<string> shown = new HashSet<string>();
        private ChatClient client;
        private bool historyShown;
        private bool refreshingMembers;

        private ScrollRect scroll;
        private RectTransform messageList;
        private InputField input;
        private Button sendButton;
        private Text membersText;
        private Text stateText;

        private void Awake()
        {
            if (string.IsNullOrEmpty(userId) && string.IsNullOrEmpty(token))
            {
                userId = "unity-" + Guid.NewGuid().ToString("N").Substring(0, 8);
            }
            if (font == null)
            {
#if UNITY_2022_2_OR_NEWER
                font = Resources.GetBuiltinResource<Font>("LegacyRuntime.ttf");
#else
                font = Resources.GetBuiltinResource<Font>("Arial.ttf");
#endif
            }
            BuildUi();
        }

        private void Start()
        {
#if UNITY_WEBGL && !UNITY_EDITOR
            SetState("WebGL: ClientWebSocket and HttpClient do not work in the browser. " +
                "Set ChatClientOptions.WebSocketFactory and Http to browser transports (see the package README).");
            historyShown = true;
#else
            Connect();
#endif
        }

#if !(UNITY_WEBGL && !UNITY_EDITOR)
        private async void Connect()
        {
            ChatClientOptions options = ChatClientOptions.ForServer(serverUrl, roomId, userId, userName);
            if (!string.IsNullOrEmpty(restUrlOverride))
            {
                options.RestUrl = restUrlOverride;
            }
            if (!string.IsNullOrEmpty(webSocketUrlOverride))
            {
                options.WebSocketUrl = webSocketUrlOverride;
            }
            options.Token = token;
            client = new ChatClient(options);
            userId = client.UserId ?? ""; // with a token and no user id: the token's

            // Background thread → queue; Update runs them on the main thread.
            client.MessageReceived += m => mainThread.Enqueue(() => AddMessage(m));
            client.MemberJoined += p => mainThread.Enqueue(() => { AddSystemLine(Display(p.Name, p.UserId) + " joined"); RefreshMembers(); });
            client.MemberLeft += p => mainThread.Enqueue(() => { AddSystemLine(Display(p.Name, p.UserId) + " left"); RefreshMembers(); });
            client.Connected += i => mainThread.Enqueue(() =>
            {
                SetState(i.Reconnected
                    ? "Reconnected to " + roomId + " (" + i.CaughtUp + " missed message(s) caught up)"
                    : "Connected to " + roomId + " as " + userName + " (" + userId + ")");
                RefreshMembers();
            });
            client.Reconnecting += i => mainThread.Enqueue(() =>
                SetState("Connection lost, reconnecting in " + i.Delay.TotalSeconds.ToString("0.0") + " s (attempt " + i.Attempt + "): " + i.Reason));
            client.Disconnected += i => mainThread.Enqueue(() => SetState("Disconnected: " + i.Reason));
            client.Error += e => mainThread.Enqueue(() => AddSystemLine("Error " + e.Code + ": " + e.Message));

            SetState("Connecting to " + serverUrl + " ...");
            try
            {
                HistoryPage page = await client.ConnectAsync();
                if (this == null)
                {
                    return; // destroyed while connecting
                }
                foreach (ChatMessage m in page.Messages)
                {
                    AddMessage(m);
                }
            }
            catch (Exception e)
            {
                if (this != null)
                {
                    SetState("Could not connect: " + e.Message);
                }
            }
            finally
            {
                // Events queued meanwhile are about messages after the page.
                historyShown = true;
            }
        }
#endif

        private void Update()
        {
            if (!historyShown)
            {
                return;
            }
            Action action;
            for (int i = 0; i < 200 && mainThread.TryDequeue(out action); i++)
            {
                action();
            }
        }

        private void OnDestroy()
        {
            if (client != null)
            {
                client.Dispose(); // aborts the socket, stops reconnecting
                client = null;
            }
        }

        private async void Send()
        {
            string text = input.text;
            if (client == null || string.IsNullOrWhiteSpace(text))
            {
                return;
            }
            input.text = "";
            input.ActivateInputField();
            sendButton.interactable = false;
            try
            {
                if (sendOverWebSocket)
                {
                    await client.SendOverWebSocketAsync(text);
                }
                else
                {
                    // Retried safely: never stored twice by a retry.
                    await client.SendAsync(text);
                }
            }
            catch (ChatException e)
            {
                if (this == null)
                {
                    return;
                }
                AddSystemLine("Not sent (" + e.Code + "): " + e.Message);
                if (e.Code == ChatError.Unavailable || e.Code == ChatError.NotConnected)
                {
                    input.text = text; // surely not stored: let the user try again
                }
            }
            catch (Exception e)
            {
                if (this != null)
                {
                    AddSystemLine("Not sent: " + e.Message);
                }
            }
            finally
            {
                if (this != null)
                {
                    sendButton.interactable = true;
                }
            }
        }

        private async void RefreshMembers()
        {
            if (client == null || refreshingMembers)
            {
                return;
            }
            refreshingMembers = true;
            try
            {
                IList<ChatMember> members = await client.GetMembersAsync();
                if (this == null)
                {
                    return;
                }
                IEnumerable<string> names = members
                    .GroupBy(m => m.UserId)
                    .Select(g => Display(g.First().Name, g.Key) + (g.Count() > 1 ? " ×" + g.Count() : ""))
                    .OrderBy(n => n, StringComparer.OrdinalIgnoreCase);
                membersText.text = "In " + roomId + " (" + members.Count + ")\n\n" + string.Join("\n", names.ToArray());
            }
            catch (Exception e)
            {
                if (this != null)
                {
                    membersText.text = "Members unavailable:\n" + e.Message;
                }
            }
            finally
            {
                refreshingMembers = false;
            }
        }

        private void AddMessage(ChatMessage m)
        {
            // A history page and a push can overlap at their boundary: show each id once.
            if (!shown.Add(m.Id))
            {
                return;
            }
            string time = m.Time.ToLocalTime().ToString("HH:mm");
            Color color = m.UserId == userId ? new Color(0.75f, 0.9f, 1f) : Color.white;
            AddLine("[" + time + "] " + Display(m.Name, m.UserId) + ": " + m.Text, color);
        }

        private void AddSystemLine(string text)
        {
            AddLine(text, new Color(1f, 0.8f, 0.4f));
        }

        private void AddLine(string text, Color color)
        {
            bool atBottom = scroll.verticalNormalizedPosition <= 0.01f || messageList.rect.height <= scroll.viewport.rect.height;
            Text line = CreateText(messageList, "Message", 18, TextAnchor.UpperLeft, color);
            line.text = text;
            while (messageList.childCount > maxMessages)
            {
                Transform oldest = messageList.GetChild(0);
                oldest.SetParent(null);
                Destroy(oldest.gameObject);
            }
            if (atBottom)
            {
                Canvas.ForceUpdateCanvases();
                scroll.verticalNormalizedPosition = 0f;
            }
        }

        private void SetState(string text)
        {
            stateText.text = text;
        }

        private static string Display(string name, string id)
        {
            return string.IsNullOrEmpty(name) ? id : name;
        }

        // ---- the UI, built in code so that the sample is one file ----------

        private void BuildUi()
        {
            if (FindObjectOfType<EventSystem>() == null)
            {
                var es = new GameObject("EventSystem", typeof(EventSystem));
#if ENABLE_LEGACY_INPUT_MANAGER
                es.AddComponent<StandaloneInputModule>();
#else
                Debug.LogWarning("ChatSample: add the Input System's InputSystemUIInputModule to the EventSystem to use the UI.", es);
#endif
            }

            var canvasGo = new GameObject("ChatCanvas", typeof(RectTransform), typeof(Canvas), typeof(CanvasScaler), typeof(GraphicRaycaster));
            canvasGo.transform.SetParent(transform, false);
            var canvas = canvasGo.GetComponent<Canvas>();
            canvas.renderMode = RenderMode.ScreenSpaceOverlay;
            var scaler = canvasGo.GetComponent<CanvasScaler>();
            scaler.uiScaleMode = CanvasScaler.ScaleMode.ScaleWithScreenSize;
            scaler.referenceResolution = new Vector2(1280, 720);
            scaler.matchWidthOrHeight = 0.5f;
            var root = (RectTransform)canvasGo.transform;

            Image background = CreateImage(root, "Background", new Color(0.12f, 0.13f, 0.16f));
            Place(background.rectTransform, Vector2.zero, Vector2.one, Vector2.zero, Vector2.zero);

            // Connection state, along the top.
            stateText = CreateText(root, "State", 18, TextAnchor.MiddleLeft, new Color(0.7f, 0.85f, 0.7f));
            Place(stateText.rectTransform, new Vector2(0, 1), new Vector2(1, 1), new Vector2(12, -44), new Vector2(-12, -4));

            // Members, on the right.
            Image membersPanel = CreateImage(root, "Members", new Color(0.17f, 0.18f, 0.22f));
            Place(membersPanel.rectTransform, new Vector2(1, 0), new Vector2(1, 1), new Vector2(-262, 64), new Vector2(-12, -48));
            membersText = CreateText(membersPanel.rectTransform, "MemberList", 16, TextAnchor.UpperLeft, Color.white);
            Place(membersText.rectTransform, Vector2.zero, Vector2.one, new Vector2(10, 10), new Vector2(-10, -10));
            membersText.text = "Members";

            // Messages: a ScrollRect whose content grows with its lines.
            Image scrollImage = CreateImage(root, "Messages", new Color(0.09f, 0.1f, 0.12f));
            Place(scrollImage.rectTransform, Vector2.zero, Vector2.one, new Vector2(12, 64), new Vector2(-272, -48));
            scroll = scrollImage.gameObject.AddComponent<ScrollRect>();
            var viewport = NewRect("Viewport", scrollImage.rectTransform);
            viewport.gameObject.AddComponent<RectMask2D>();
            Place(viewport, Vector2.zero, Vector2.one, new Vector2(4, 4), new Vector2(-4, -4));
            messageList = NewRect("Content", viewport);
            messageList.anchorMin = new Vector2(0, 1);
            messageList.anchorMax = new Vector2(1, 1);
            messageList.pivot = new Vector2(0.5f, 1);
            messageList.offsetMin = Vector2.zero;
            messageList.offsetMax = Vector2.zero;
            var layout = messageList.gameObject.AddComponent<VerticalLayoutGroup>();
            layout.padding = new RectOffset(8, 8, 8, 8);
            layout.spacing = 4;
            layout.childAlignment = TextAnchor.UpperLeft;
            layout.childControlWidth = true;
            layout.childControlHeight = true;
            layout.childForceExpandWidth = true;
            layout.childForceExpandHeight = false;
            var fitter = messageList.gameObject.AddComponent<ContentSizeFitter>();
            fitter.horizontalFit = ContentSizeFitter.FitMode.Unconstrained;
            fitter.verticalFit = ContentSizeFitter.FitMode.PreferredSize;
            scroll.viewport = viewport;
            scroll.content = messageList;
            scroll.horizontal = false;
            scroll.vertical = true;
            scroll.movementType = ScrollRect.MovementType.Clamped;
            scroll.scrollSensitivity = 30;

            // Input and Send, along the bottom.
            Image inputImage = CreateImage(root, "Input", Color.white);
            Place(inputImage.rectTransform, Vector2.zero, new Vector2(1, 0), new Vector2(12, 12), new Vector2(-392, 52));
            input = inputImage.gameObject.AddComponent<InputField>();
            Text inputText = CreateText(inputImage.rectTransform, "Text", 18, TextAnchor.MiddleLeft, Color.black);
            Place(inputText.rectTransform, Vector2.zero, Vector2.one, new Vector2(10, 4), new Vector2(-10, -4));
            Text placeholder = CreateText(inputImage.rectTransform, "Placeholder", 18, TextAnchor.MiddleLeft, new Color(0, 0, 0, 0.45f));
            Place(placeholder.rectTransform, Vector2.zero, Vector2.one, new Vector2(10, 4), new Vector2(-10, -4));
            placeholder.fontStyle = FontStyle.Italic;
            placeholder.text = "Type a message…";
            input.textComponent = inputText;
            input.placeholder = placeholder;
            input.lineType = InputField.LineType.SingleLine;
            input.characterLimit = 16 * 1024;
            input.onEndEdit.AddListener(_ =>
            {
                if (SubmitPressed())
                {
                    Send();
                }
            });

            Image buttonImage = CreateImage(root, "Send", new Color(0.2f, 0.45f, 0.85f));
            Place(buttonImage.rectTransform, new Vector2(1, 0), new Vector2(1, 0), new Vector2(-382, 12), new Vector2(-272, 52));
            sendButton = buttonImage.gameObject.AddComponent<Button>();
            sendButton.targetGraphic = buttonImage;
            Text label = CreateText(buttonImage.rectTransform, "Label", 18, TextAnchor.MiddleCenter, Color.white);
            Place(label.rectTransform, Vector2.zero, Vector2.one, Vector2.zero, Vector2.zero);
            label.text = "Send";
            sendButton.onClick.AddListener(Send);
        }

        // SubmitPressed tells Enter from the focus moving away, both of
        // which end an InputField's edit.
        private static bool SubmitPressed()
        {
#if ENABLE_LEGACY_INPUT_MANAGER
            return Input.GetKeyDown(KeyCode.Return) || Input.GetKeyDown(KeyCode.KeypadEnter);
#else
            return false; // with only the Input System, use the Send button
#endif
        }

        private static RectTransform NewRect(string name, Transform parent)
        {
            var go = new GameObject(name, typeof(RectTransform));
            go.transform.SetParent(parent, false);
            return (RectTransform)go.transform;
        }

        private static Image CreateImage(Transform parent, string name, Color color)
        {
            RectTransform rt = NewRect(name, parent);
            var image = rt.gameObject.AddComponent<Image>();
            image.color = color;
            return image;
        }

        private Text CreateText(Transform parent, string name, int size, TextAnchor alignment, Color color)
        {
            RectTransform rt = NewRect(name, parent);
            var text = rt.gameObject.AddComponent<Text>();
            text.font = font;
            text.fontSize = size;
            text.alignment = alignment;
            text.color = color;
            text.supportRichText = false; // chat text is shown as typed
            text.horizontalOverflow = HorizontalWrapMode.Wrap;
            text.verticalOverflow = VerticalWrapMode.Overflow;
            text.raycastTarget = false;
            return text;
        }

        private static void Place(RectTransform rt, Vector2 anchorMin, Vector2 anchorMax, Vector2 offsetMin, Vector2 offsetMax)
        {
            rt.anchorMin = anchorMin;
            rt.anchorMax = anchorMax;
            rt.offsetMin = offsetMin;
            rt.offsetMax = offsetMax;
        }
    }
}
