"""Acting from a notice or a story (docs/ODD.md §7.12): who makes a visit the next day, to act.

Action happens on a visit (or through a notice's one-click link, §7.6), so a member who reads of the
data use away from the site, in an email or in the news or from a contact, can act on it only when
something brings them to the site. Each of three occasions of day t gives an independent chance of a
visit on day t + 1:

    P(visit on t + 1) = 1 - (1 - r_story x e_r(t)) x (1 - r_contact x w_i(t)) x (1 - r_notice x n_i(t) x m_i(t))

- **a story in the news**, for a member exposed on day t: r_story = `response_prob`, e_r(t) =
  event(t) / attention(t), the share of the day's media attention in the member's region r that is
  about an event (the background level brings nobody);
- **a contact who acted**: r_contact = `contact_response_prob`, w_i(t) = the day's chance that
  member i is told by contacts who acted (word of mouth, §7.3: strength x telling_i / contacts_i);
- **a notice**: r_notice = `notice_response_prob`, n_i(t) = 1 if member i read an email notice
  today, and m_i(t) = 1 if the notice *moved* them: their status differs from their preference and
  they hold an intent to change it after today's intent step (§7.4), a route is open to the choice
  they want, they are not on the site today (a visitor acts on today's visit) and the notice they
  read carries no one-click link (the link is then the route to act, §7.6).

A story brings back whoever it reaches (to check their settings; an intent decides what they do
there); a notice brings back only those it moved. Every function works on scalars and arrays alike.
"""

from __future__ import annotations

import numpy as np


def story_chance(response_prob, event_share):
    """r_story x e_r(t): a story in the news brings an exposed member back the next day."""
    return response_prob * event_share


def contact_chance(contact_response_prob, told_prob):
    """r_contact x w_i(t): being told by contacts who acted brings a member back the next day."""
    return contact_response_prob * told_prob


def notice_chance(notice_response_prob, moved):
    """r_notice x m_i(t), for a member who read an email notice today: 0 unless it moved them."""
    return np.where(moved, notice_response_prob, 0.0)


def visit_probability(*chances):
    """1 - prod_k (1 - chance_k): a visit the next day from independent occasions."""
    stay = 1.0
    for chance in chances:
        stay = stay * (1.0 - np.asarray(chance, np.float64))
    return 1.0 - stay
