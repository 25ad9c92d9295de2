/** Charity (issue 15): the members' donate flow and the admins' monthly report. */
export { charityAdminFeature } from './admin.js';
export { charityFeature } from './donate.js';
