import { Args } from '@oclif/core';
import { YardCommand } from '../../base-command.js';

export default class TaskDelete extends YardCommand<typeof TaskDelete> {
  static override summary = 'Permanently delete an ended task and its logs (needs delete_tasks).';
  static override description = 'Only tasks that have ended (COMPLETED, FAILED, KILLED, LOST) can be deleted; kill a running one first.';
  static override examples = ['<%= config.bin %> task delete 12'];
  static override args = { id: Args.integer({ required: true, description: 'task id', min: 1 }) };

  async run(): Promise<{ id: number; deleted: true }> {
    const result = await (await this.session()).call('tasks.delete', { params: { id: this.args.id } });
    this.log(`Deleted task ${result.id} and its logs.`);
    return result;
  }
}
