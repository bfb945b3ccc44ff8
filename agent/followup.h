/*
 * Follow-up reports for the server's health gate. The server passes a node only on a report
 * made after the app's min_healthy_time of unbroken health (time alone proves nothing to it), so
 * when an app turns healthy the agent sends one more report once that window is over, rather
 * than leaving it to the next heartbeat, which may come after the deadline.
 */
#ifndef OVR_FOLLOWUP_H
#define OVR_FOLLOWUP_H

#include <stdint.h>

/* Added to the window, so the follow-up lands after the server's own clock says it is over. */
#define FOLLOWUP_MARGIN_MS 1000

struct followups;

/* NULL without memory. */
struct followups *followups_new(void);
void followups_free(struct followups *f);

/* The desired app (from a Sync) and its window: the gate the next reports speak to. */
void followups_expect(struct followups *f, const char *app, const char *deployment_id,
                      int64_t min_healthy_ms);

/* The app is gone from the node: its entry goes, so the table holds only apps the node has. */
void followups_forget(struct followups *f, const char *app);

/*
 * A report about to go out says app (for deployment_id) is healthy or not, at now_ms
 * (monotonic). Returns when a follow-up report is due (monotonic ms), or 0 for none: once per
 * healthy streak of the deployment the server expects.
 */
int64_t followups_note(struct followups *f, const char *app, const char *deployment_id,
                       int healthy, int64_t now_ms);

#endif
