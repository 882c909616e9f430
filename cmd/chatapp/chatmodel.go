package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/charmbracelet/bubbles/textinput"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/client"
)

// The terminal chat: a bubbletea model on a client.Client.
//
//	┌ header: room, you, connection state ─────────────────┐
//	│ messages (viewport)                      │ members   │
//	│ 15:04 Ada: hello                         │ • Ada     │
//	│ > input                                              │
//	└ status: can't reach 127.0.0.1:8080 (connection refused) · retrying in 4s ┘

const (
	membersWidth   = 24   // the member list, its border included
	minWidthForAll = 60   // narrower terminals hide the member list
	maxShown       = 1000 // messages kept on screen
	requestTimeout = 10 * time.Second
)

var (
	headerStyle  = lipgloss.NewStyle().Bold(true).Reverse(true)
	timeStyle    = lipgloss.NewStyle().Faint(true)
	nameStyle    = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("12"))
	ownNameStyle = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("10"))
	membersStyle = lipgloss.NewStyle().BorderStyle(lipgloss.NormalBorder()).BorderLeft(true).PaddingLeft(1)
	titleStyle   = lipgloss.NewStyle().Bold(true)
	statusStyle  = lipgloss.NewStyle().Faint(true)
	errorStyle   = lipgloss.NewStyle().Foreground(lipgloss.Color("9"))
)

// chatIdentity is who chats where.
type chatIdentity struct {
	Room, UserID, Name string
}

// member is one user in the room, however many connections they have.
type member struct {
	UserID, Name string
}

// chatModel is the screen. It learns everything from the client's events;
// sends and member list reads run as commands.
type chatModel struct {
	client *client.Client
	me     chatIdentity

	input    textinput.Model
	viewport viewport.Model
	width    int
	height   int

	messages []*chatapp.Message // in id order
	shown    map[string]bool
	members  []member
	state    string // connecting, connected, reconnecting, closed
	// status is the footer while nothing is wrong, longest variant first.
	status []string
	// retry is why the connection is down, its attempt, and when the
	// client tries again; retryTick tells the current countdown apart from
	// the ticks of an earlier one.
	retry     retryState
	retryTick int
	// problem is the last failed action (a send, the member list, an error
	// frame), shown instead of the status until the next success.
	problem *actionProblem
}

type retryState struct {
	cause   errorWords
	attempt int
	at      time.Time
}

type actionProblem struct {
	action string // "not sent", "members", "refused", "disconnected"
	words  errorWords
}

// Messages of the model.
type (
	eventMsg       client.Event
	eventsEndedMsg struct{}
	membersMsg     struct {
		members []member
		err     error
	}
	sentMsg struct {
		text string
		msg  *chatapp.Message // when sent over REST
		err  error
	}
	// retryTickMsg redraws the reconnect countdown.
	retryTickMsg struct{ tick int }
)

func newChatModel(c *client.Client, me chatIdentity) *chatModel {
	in := textinput.New()
	in.Prompt = "> "
	in.Placeholder = "say something, Enter to send"
	in.CharLimit = chatapp.MaxMessageBytes / 4 // runes; the server counts bytes
	in.Focus()
	m := &chatModel{
		client: c,
		me:     me,
		input:  in,
		shown:  map[string]bool{},
		state:  "connecting",
		status: []string{"connecting"},
	}
	m.resize(80, 24)
	return m
}

func (m *chatModel) Init() tea.Cmd {
	return tea.Batch(textinput.Blink, m.nextEvent(), m.loadMembers())
}

// nextEvent waits for the client's next event.
func (m *chatModel) nextEvent() tea.Cmd {
	events := m.client.Events()
	return func() tea.Msg {
		ev, ok := <-events
		if !ok {
			return eventsEndedMsg{}
		}
		return eventMsg(ev)
	}
}

// loadMembers reads the room's connections, one entry per user.
func (m *chatModel) loadMembers() tea.Cmd {
	c := m.client
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		conns, err := c.Users(ctx)
		if err != nil {
			return membersMsg{err: err}
		}
		byUser := map[string]string{}
		for _, conn := range conns {
			if name, ok := byUser[conn.UserID]; !ok || name == "" {
				byUser[conn.UserID] = conn.Name
			}
		}
		out := make([]member, 0, len(byUser))
		for id, name := range byUser {
			out = append(out, member{UserID: id, Name: name})
		}
		slices.SortFunc(out, func(a, b member) int {
			return cmp.Or(cmp.Compare(strings.ToLower(a.display()), strings.ToLower(b.display())), cmp.Compare(a.UserID, b.UserID))
		})
		return membersMsg{members: out}
	}
}

// send sends over the socket while connected, else over REST (which works
// while the socket reconnects).
func (m *chatModel) send(text string) tea.Cmd {
	c, connected := m.client, m.state == "connected"
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		if connected {
			err := c.SendWS(ctx, text)
			if !errors.Is(err, client.ErrNotConnected) {
				return sentMsg{text: text, err: err}
			}
		}
		msg, err := c.Send(ctx, text)
		return sentMsg{text: text, msg: msg, err: err}
	}
}

func (m *chatModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.resize(msg.Width, msg.Height)
		return m, nil

	case tea.KeyMsg:
		switch msg.Type {
		case tea.KeyCtrlC, tea.KeyEsc:
			return m, tea.Quit
		case tea.KeyEnter:
			text := m.input.Value()
			if strings.TrimSpace(text) == "" {
				return m, nil
			}
			m.input.Reset()
			return m, m.send(text)
		case tea.KeyPgUp, tea.KeyPgDown, tea.KeyUp, tea.KeyDown:
			var cmd tea.Cmd
			m.viewport, cmd = m.viewport.Update(msg)
			return m, cmd
		}
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		return m, cmd

	case eventMsg:
		return m, tea.Batch(m.handle(client.Event(msg)), m.nextEvent())

	case eventsEndedMsg:
		m.state, m.status = "closed", []string{"disconnected"}
		return m, nil

	case retryTickMsg:
		if msg.tick != m.retryTick || m.state != "reconnecting" {
			return m, nil
		}
		return m, m.tickRetry()

	case membersMsg:
		if msg.err != nil {
			m.problem = &actionProblem{"members", describeError(msg.err)}
		} else {
			m.members = msg.members
			if m.problem != nil && m.problem.action == "members" {
				m.problem = nil
			}
		}
		return m, nil

	case sentMsg:
		if msg.err != nil {
			m.problem = &actionProblem{"not sent", describeError(msg.err)}
			if m.input.Value() == "" {
				m.input.SetValue(msg.text)
			}
			return m, nil
		}
		m.problem = nil
		if msg.msg != nil {
			m.add(msg.msg)
		}
		return m, nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	return m, cmd
}

// handle applies one client event.
func (m *chatModel) handle(ev client.Event) tea.Cmd {
	switch ev.Kind {
	case client.KindMessage:
		m.add(ev.Message)
	case client.KindJoin, client.KindLeave:
		return m.loadMembers()
	case client.KindConnected:
		m.state, m.problem = "connected", nil
		m.status = []string{"connected · Enter sends · PgUp/PgDn scroll · Esc quits", "connected · Esc quits", "connected"}
		if ev.Attempt > 0 {
			return m.loadMembers()
		}
	case client.KindReconnecting:
		m.state = "reconnecting"
		cause := describeError(ev.Err)
		if ev.Err == nil {
			cause = errorWords{"connection lost", "connection lost"}
		}
		m.retry = retryState{cause: cause, attempt: ev.Attempt, at: time.Now().Add(ev.Delay)}
		m.retryTick++
		return m.tickRetry()
	case client.KindError:
		m.problem = &actionProblem{"refused", describeError(ev.Err)}
	case client.KindClosed:
		// The server refused the reconnection for good (an expired
		// token): say why; eventsEndedMsg follows.
		m.problem = &actionProblem{"disconnected", describeError(ev.Err)}
	}
	return nil
}

// tickRetry redraws the countdown each second until the retry is due.
func (m *chatModel) tickRetry() tea.Cmd {
	left := time.Until(m.retry.at)
	if left <= 0 {
		return nil
	}
	// The shown number (whole seconds, rounded up) changes when left
	// crosses a whole second.
	wait := left % time.Second
	if wait == 0 {
		wait = time.Second
	}
	tick := m.retryTick
	return tea.Tick(wait, func(time.Time) tea.Msg { return retryTickMsg{tick} })
}

// footer is the status line's variants, longest first: View shows the
// first that fits the width, so that a narrow terminal gets fewer words,
// not cut ones. Every variant is cleaned here, in one place: their words
// come from errors and servers.
func (m *chatModel) footer() (variants []string, isError bool) {
	variants, isError = m.footerWords()
	for i, v := range variants {
		variants[i] = cleanText(v)
	}
	return variants, isError
}

func (m *chatModel) footerWords() (variants []string, isError bool) {
	if p := m.problem; p != nil {
		return []string{p.action + ": " + p.words.Long, p.action + ": " + p.words.Short, p.words.Short}, true
	}
	if m.state != "reconnecting" {
		return slices.Clone(m.status), false
	}
	r := m.retry
	when := "retrying now"
	if left := time.Until(r.at); left > 0 {
		// Whole seconds, rounded up: 0.2 s left is "in 1s", never "in 0s".
		when = fmt.Sprintf("retrying in %ds", int((left+time.Second-1)/time.Second))
	}
	return []string{
		fmt.Sprintf("%s · %s (attempt %d)", r.cause.Long, when, r.attempt),
		r.cause.Long + " · " + when,
		r.cause.Short + " · " + when,
		r.cause.Short,
	}, true
}

// fitWidth is the first variant no wider than width, else the last cut.
func fitWidth(width int, variants []string) string {
	for _, v := range variants {
		if ansi.StringWidth(v) <= width {
			return v
		}
	}
	if len(variants) == 0 {
		return ""
	}
	return ansi.Truncate(variants[len(variants)-1], width, "…")
}

// add shows a message once, in id order.
func (m *chatModel) add(msg *chatapp.Message) {
	if m.shown[msg.ID] {
		return
	}
	m.shown[msg.ID] = true
	i, _ := slices.BinarySearchFunc(m.messages, msg.ID, func(e *chatapp.Message, id string) int { return strings.Compare(e.ID, id) })
	m.messages = slices.Insert(m.messages, i, msg)
	if len(m.messages) > maxShown {
		delete(m.shown, m.messages[0].ID)
		m.messages = slices.Delete(m.messages, 0, 1)
	}
	m.refresh()
}

func (m *chatModel) resize(w, h int) {
	m.width, m.height = w, h
	m.viewport.Width = max(10, w-m.membersWidth())
	m.viewport.Height = max(1, h-3) // header, input, status
	m.input.Width = max(1, w-len(m.input.Prompt)-1)
	m.refresh()
}

func (m *chatModel) membersWidth() int {
	if m.width < minWidthForAll {
		return 0
	}
	return membersWidth
}

// refresh renders the messages into the viewport, following the bottom
// unless the user scrolled up.
func (m *chatModel) refresh() {
	follow := m.viewport.AtBottom() || m.viewport.TotalLineCount() <= m.viewport.Height
	wrap := lipgloss.NewStyle().Width(m.viewport.Width)
	var b strings.Builder
	for i, msg := range m.messages {
		if i > 0 {
			b.WriteByte('\n')
		}
		name := nameStyle
		if msg.UserID == m.me.UserID {
			name = ownNameStyle
		}
		who := cleanText(msg.Name)
		if who == "" {
			who = cleanText(msg.UserID)
		}
		line := timeStyle.Render(time.UnixMilli(msg.Timestamp).Format("15:04")) + " " +
			name.Render(who) + ": " + cleanText(msg.Text)
		b.WriteString(wrap.Render(line))
	}
	m.viewport.SetContent(b.String())
	if follow {
		m.viewport.GotoBottom()
	}
}

func (m *chatModel) View() string {
	state := map[string]string{"connected": "● connected", "reconnecting": "○ reconnecting"}[m.state]
	if state == "" {
		state = "○ " + m.state
	}
	header := fmt.Sprintf(" chatapp · #%s · %s (%s) · %s",
		cleanText(m.me.Room), cleanText(m.me.Name), cleanText(m.me.UserID), state)
	header = headerStyle.Width(m.width).Render(ansi.Truncate(header, m.width, "…"))

	body := m.viewport.View()
	if w := m.membersWidth(); w > 0 {
		body = lipgloss.JoinHorizontal(lipgloss.Top, body, m.membersView(w, m.viewport.Height))
	}

	variants, isError := m.footer()
	style := statusStyle
	if isError {
		style = errorStyle
	}
	statusLine := style.Render(fitWidth(m.width, variants))
	return lipgloss.JoinVertical(lipgloss.Left, header, body, m.input.View(), statusLine)
}

func (m *chatModel) membersView(w, h int) string {
	inner := w - membersStyle.GetHorizontalFrameSize()
	line := lipgloss.NewStyle().MaxWidth(inner)
	lines := []string{titleStyle.Render(fmt.Sprintf("members (%d)", len(m.members)))}
	for _, mb := range m.members {
		s := "• " + mb.display()
		if mb.UserID == m.me.UserID {
			s += " (you)"
		}
		lines = append(lines, line.Render(s))
	}
	if len(lines) > h {
		lines = lines[:h]
	}
	return membersStyle.Width(inner).Height(h).MaxHeight(h).Render(strings.Join(lines, "\n"))
}

// display is the member's name, else the user id; safe to print.
func (mb member) display() string {
	if s := cleanText(mb.Name); s != "" {
		return s
	}
	return cleanText(mb.UserID)
}

// cleanText makes text from the network safe to print: control characters
// (ESC, CSI, BEL, and the C1 range) are dropped so that no one can send
// escape sequences to a terminal, line breaks and tabs become spaces, and
// bidirectional overrides, which reorder what is displayed, are dropped.
func cleanText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r):
			return -1
		}
		return r
	}, s)
}
